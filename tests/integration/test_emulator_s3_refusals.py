"""The local emulator's S3 refuses what S3 refuses (`devstack/s3_auth.py`), with S3's status and
error Code, and stores nothing: a body that is not the one its Content-MD5 or its signed SHA-256
names, a presigned URL past its expiry or with another signature, a request signed with another
key or an unknown access key, an anonymous write, a part or a completion of an unknown multipart
upload. Obelisk's pixel-data links are presigned URLs whose expiry is their security: the
API's own WADO redirect is shown to expire here."""
from __future__ import annotations

import base64
import datetime
import hashlib
import http.client
import socket
import uuid
from unittest import mock
from urllib.parse import urlsplit
from xml.etree import ElementTree

import boto3
import pytest
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.dicomweb_session import DICOMwebClient
from tests.integration import dicom_samples as samples

BODY = b"pixel data " * 2000


def _s3(stack, key: str = "local", secret: str = "local"):
    return boto3.client("s3", endpoint_url=stack.emulator_url, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 1}))


@pytest.fixture(scope="module")
def bucket(stack):
    name = f"refusals-{uuid.uuid4().hex[:8]}"
    _s3(stack).create_bucket(Bucket=name)
    return name


def _error(answer) -> tuple[int, str, str]:
    """(status, Code, Message) of an S3 error answer."""
    error = ElementTree.fromstring(answer.content)
    return answer.status_code, error.findtext("Code"), error.findtext("Message")


def _code(call) -> tuple[int, str]:
    with pytest.raises(ClientError) as refused:
        call()
    return refused.value.response["ResponseMetadata"]["HTTPStatusCode"], refused.value.response["Error"]["Code"]


def _stored(stack, bucket: str, key: str) -> bool:
    try:
        _s3(stack).head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as error:
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        return False


def test_a_body_that_is_not_its_content_md5_is_refused_and_not_stored(stack, bucket):
    wrong = base64.b64encode(hashlib.md5(b"another body").digest()).decode()
    assert _code(lambda: _s3(stack).put_object(Bucket=bucket, Key="md5", Body=BODY, ContentMD5=wrong)) == (400, "BadDigest")
    assert not _stored(stack, bucket, "md5")
    right = base64.b64encode(hashlib.md5(BODY).digest()).decode()
    _s3(stack).put_object(Bucket=bucket, Key="md5", Body=BODY, ContentMD5=right)
    assert _stored(stack, bucket, "md5")


def _signed_put(stack, path: str, body: bytes, sent: bytes | None = None, **headers) -> bytes:
    """A PutObject's bytes on the wire, `body`'s SHA-256 signed, `sent` sent as its body (`body`
    unless given), with `headers` set after signing."""
    request = AWSRequest("PUT", f"{stack.emulator_url}{path}", data=body)
    S3SigV4Auth(Credentials("local", "local"), "s3", "us-east-1").add_auth(request)
    sent = body if sent is None else sent
    fields = {**dict(request.headers.items()), "Content-Length": str(len(sent)), **headers}
    head = "".join(f"{name}: {value}\r\n" for name, value in fields.items())
    return f"PUT {path} HTTP/1.1\r\nHost: {urlsplit(stack.emulator_url).netloc}\r\n{head}\r\n".encode() + sent


def _first_answer(stack, raw: bytes) -> tuple[int, bytes]:
    """Status and body of the first answer to `raw`, sent on a new connection."""
    address = urlsplit(stack.emulator_url)
    with socket.create_connection((address.hostname, address.port), timeout=60) as connection:
        connection.sendall(raw)
        answer = http.client.HTTPResponse(connection, method="PUT")
        answer.begin()
        return answer.status, answer.read()


def test_a_body_that_is_not_its_signed_sha256_is_refused_and_not_stored(stack, bucket):
    """A body changed on its way (same length), its signature over the SHA-256 of the one sent."""
    changed = BODY.replace(b"pixel", b"pixie")
    status, body = _first_answer(stack, _signed_put(stack, f"/{bucket}/sha", BODY, sent=changed))
    assert (status, ElementTree.fromstring(body).findtext("Code")) == (400, "XAmzContentSHA256Mismatch")
    assert not _stored(stack, bucket, "sha")


def test_a_content_length_shorter_than_the_signed_body_stores_nothing(stack, bucket):
    """The server reads Content-Length bytes: the object would be the body less its tail; its
    signed SHA-256 is the whole body's, so S3 (and now the emulator) refuses it."""
    raw = _signed_put(stack, f"/{bucket}/short", BODY, **{"Content-Length": str(len(BODY) - 100)})
    assert _first_answer(stack, raw)[0] == 400
    assert not _stored(stack, bucket, "short")


SIGV4, SIGV2 = "s3v4", "s3"  # the API presigns with SigV4 (chalicelib/store/aws.py); boto3's default in us-east-1 is SigV2


def _presigned(stack, method: str, bucket: str, key: str, seconds: int, version: str = SIGV4, signed_at=None) -> str:
    """A presigned URL, signed now or at `signed_at` (SigV4: botocore's clock)."""
    s3 = boto3.client("s3", endpoint_url=stack.emulator_url, region_name="us-east-1", aws_access_key_id="local",
                      aws_secret_access_key="local", config=Config(signature_version=version))
    with mock.patch("botocore.auth.get_current_datetime", return_value=signed_at or _utc_now()):
        return s3.generate_presigned_url(method, Params={"Bucket": bucket, "Key": key}, ExpiresIn=seconds)


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def test_a_presigned_get_past_its_expiry_is_refused(stack, bucket):
    _s3(stack).put_object(Bucket=bucket, Key="expiring", Body=BODY)
    for version in (SIGV4, SIGV2):
        assert requests.get(_presigned(stack, "get_object", bucket, "expiring", 60, version), timeout=30).content == BODY
    an_hour_ago = _utc_now() - datetime.timedelta(hours=1)
    expired = [_presigned(stack, "get_object", bucket, "expiring", 60, signed_at=an_hour_ago),
               _presigned(stack, "get_object", bucket, "expiring", -3600, SIGV2)]  # SigV2 names its end: Expires
    for url in expired:
        assert _error(requests.get(url, timeout=30)) == (403, "AccessDenied", "Request has expired"), url


@pytest.mark.parametrize("version", [SIGV4, SIGV2])
def test_a_presigned_url_with_another_signature_is_refused(stack, bucket, version):
    _s3(stack).put_object(Bucket=bucket, Key="tampered", Body=BODY)
    url = _presigned(stack, "get_object", bucket, "tampered", 300, version)
    assert requests.get(url, timeout=30).status_code == 200
    tampered = url.replace("Signature=", "Signature=0")
    assert _error(requests.get(tampered, timeout=30))[:2] == (403, "SignatureDoesNotMatch")
    another_key = url.replace("/tampered?", "/md5?")
    assert _error(requests.get(another_key, timeout=30))[:2] == (403, "SignatureDoesNotMatch")
    put = _presigned(stack, "put_object", bucket, "put-elsewhere", 300, version).replace("put-elsewhere", "put-here")
    assert _error(requests.put(put, data=b"x", timeout=30))[:2] == (403, "SignatureDoesNotMatch")
    assert not _stored(stack, bucket, "put-here")


def test_a_request_signed_with_another_secret_or_an_unknown_key_is_refused(stack, bucket):
    assert _code(lambda: _s3(stack, "local", "guessed").put_object(Bucket=bucket, Key="k", Body=BODY)) \
        == (403, "SignatureDoesNotMatch")
    assert _code(lambda: _s3(stack, "x", "x").get_object(Bucket=bucket, Key="md5")) == (403, "InvalidAccessKeyId")
    assert not _stored(stack, bucket, "k")


def test_an_anonymous_put_is_refused_and_not_stored(stack, bucket):
    answer = requests.put(f"{stack.emulator_url}/{bucket}/anonymous", data=b"anon", timeout=30)
    assert _error(answer) == (403, "AccessDenied", "Access Denied")
    assert not _stored(stack, bucket, "anonymous")


def test_a_part_or_completion_of_an_unknown_multipart_upload_is_404_no_such_upload(stack, bucket):
    s3 = _s3(stack)
    assert _code(lambda: s3.upload_part(Bucket=bucket, Key="big", UploadId="nope", PartNumber=1, Body=BODY)) \
        == (404, "NoSuchUpload")
    assert _code(lambda: s3.complete_multipart_upload(
        Bucket=bucket, Key="big", UploadId="nope", MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"x"'}]})) \
        == (404, "NoSuchUpload")
    assert not _stored(stack, bucket, "big")


def test_the_apis_wado_redirect_expires(stack, tokens):
    """The presigned URL an instance's WADO-RS retrieval redirects to serves the instance until
    `OBELISK_PRESIGN_SECONDS` (300 s) have passed and is refused after (the emulator's clock for
    S3's checks moved forward 6 minutes instead of waiting)."""
    ds = samples.load("CT_small.dcm")
    auth = {"Authorization": f"Bearer {tokens('alice')}"}
    DICOMwebClient(url=stack.api_url, headers=auth).store_instances([ds])
    url = f"{stack.api_url}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}"
    redirect = requests.get(url, headers={**auth, "Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'},
                            allow_redirects=False, timeout=30)
    assert redirect.status_code == 303
    fresh = requests.get(redirect.headers["Location"], timeout=30)
    assert fresh.status_code == 200 and str(ds.SOPInstanceUID).encode() in fresh.content
    clock = f"{stack.emulator_url}/_emulator/clock"
    try:
        requests.post(clock, json={"offset_seconds": 360}, timeout=30).raise_for_status()
        assert _error(requests.get(redirect.headers["Location"], timeout=30)) == (403, "AccessDenied", "Request has expired")
    finally:
        requests.post(clock, json={"offset_seconds": 0}, timeout=30).raise_for_status()



def test_the_browsers_preflight_of_a_presigned_part_put_is_answered_by_the_buckets_cors_rules(stack):
    """A CORS preflight carries the presigned URL's query but no signature of its own (S3 answers it
    from the bucket's CORS rules): the web app's large uploads PUT presigned parts cross-origin."""
    url = _presigned(stack, "put_object", "obelisk-local-dicom", "uploads/preflight/body", 300)
    answer = requests.options(url, timeout=30, headers={"Origin": stack.web_url, "Access-Control-Request-Method": "PUT",
                                                         "Access-Control-Request-Headers": "content-type"})
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == stack.web_url


def test_a_presigned_url_sent_with_an_authorization_header_too_is_refused(stack, bucket):
    """A client that keeps its bearer token across the API's redirect: S3 allows one mechanism."""
    _s3(stack).put_object(Bucket=bucket, Key="two", Body=BODY)
    url = _presigned(stack, "get_object", bucket, "two", 300)
    answer = requests.get(url, headers={"Authorization": "Bearer a-token"}, timeout=30)
    assert _error(answer)[:2] == (400, "InvalidArgument")


@pytest.mark.parametrize("query", ["X-Amz-Signature=x", "X-Amz-Date=20200101T000000Z&X-Amz-Expires=1&X-Amz-Signature=x",
                                   "Signature=x", "Signature=x&Expires=1", ""])
def test_an_object_is_not_served_for_a_signature_without_its_credential(stack, bucket, query):
    """A query with a signature but no credential is not a presigned URL: S3 refuses it (the
    emulator served the object for it, an expired link with `X-Amz-Credential` removed included:
    outside check round 15)."""
    _s3(stack).put_object(Bucket=bucket, Key="private", Body=BODY)
    url = f"{stack.emulator_url}/{bucket}/private" + (f"?{query}" if query else "")
    for answer in (requests.get(url, timeout=30), requests.head(url, timeout=30)):
        assert answer.status_code in (400, 403) and BODY not in answer.content
    assert _error(requests.get(url, timeout=30))[1] in ("AccessDenied", "AuthorizationQueryParametersError")


def test_buckets_and_their_keys_are_not_listed_anonymously(stack, bucket):
    """The bucket list and a bucket's keys (every study's, series' and instance's UIDs) are S3
    calls that need a credential (both were answered anonymously: outside check round 15)."""
    for url in (f"{stack.emulator_url}/", f"{stack.emulator_url}/{bucket}?max-keys=1", f"{stack.emulator_url}/{bucket}"):
        answer = requests.get(url, timeout=30)
        assert _error(answer)[:2] == (403, "AccessDenied"), url
    assert bucket in [listed["Name"] for listed in _s3(stack).list_buckets()["Buckets"]]
