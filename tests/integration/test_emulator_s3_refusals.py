"""The local emulator's S3 refuses what S3 refuses (`devstack/s3_auth.py`, `devstack/s3_bodies.py`), with S3's status and
error Code, and stores nothing: a body that is not the one its Content-MD5, its signed SHA-256 or
its checksum (in a header or an aws-chunked trailer, each of S3's algorithms) names, two
checksums or another than announced, a trailer not announced, signed chunks whose signatures are
not the chain S3 computes, a presigned
URL past its expiry or with another signature or used on another path, a request signed with
another key or an unknown access key, an anonymous write, a part or a completion of an unknown
multipart upload; what it stores is read back with its own checksum. Obelisk's pixel-data links
are presigned URLs whose expiry is their security: the API's own WADO redirect is shown to expire
here."""
from __future__ import annotations

import base64
import datetime
import hashlib
import http.client
import socket
import string
import uuid
from unittest import mock
from urllib.parse import urlsplit
from xml.etree import ElementTree

import boto3
import pytest
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.httpchecksum import Crc32Checksum, Sha1Checksum, Sha256Checksum

from devstack import crc
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


ALGORITHMS = {  # S3's flexible checksums, a body's header value: botocore's, and devstack/crc.py's for the two
    # that botocore computes only with awscrt, which no requirements file installs (devstack/crc.py says why)
    "CRC32": lambda body: Crc32Checksum().handle(body),
    "CRC32C": lambda body: base64.b64encode(crc.crc32c(body).to_bytes(4, "big")).decode(),
    "CRC64NVME": lambda body: base64.b64encode(crc.crc64nvme(body).to_bytes(8, "big")).decode(),
    "SHA1": lambda body: Sha1Checksum().handle(body),
    "SHA256": lambda body: Sha256Checksum().handle(body),
}


def _checksum(algorithm: str, body: bytes) -> str:
    return ALGORITHMS[algorithm](body)


BASE64 = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"


def _invalid(value: str) -> str:
    """`value` with a bit set that base64 leaves unused in its last character: the same length,
    decoded to the same bytes by lenient decoders, and not a digest as S3 reads it (400
    InvalidRequest: `y/Q5Jh==` for `y/Q5Jg==`, openstack/swift test/s3api/test_object_checksums.py)."""
    last = len(value.rstrip("=")) - 1
    return value[:last] + BASE64[BASE64.index(value[last]) | 1] + value[last + 1:]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_body_that_is_not_its_checksum_header_is_refused_and_not_stored(stack, bucket, algorithm):
    """A PutObject or UploadPart whose `x-amz-checksum-*` header is another body's: S3 answers 400
    BadDigest "The SHA256 you specified did not match the calculated checksum." (and so for each
    algorithm), and 400 InvalidRequest for a value that is no such digest. The emulator stored the
    object for each but CRC32, and a malformed CRC32 was a BadDigest."""
    s3, key = _s3(stack), f"checksum-header-{algorithm}"
    wrong, right = _checksum(algorithm, b"another body"), _checksum(algorithm, BODY)
    put = {"Bucket": bucket, "Key": key, "Body": BODY, "ChecksumAlgorithm": algorithm}
    with pytest.raises(ClientError) as refused:
        s3.put_object(**put, **{f"Checksum{algorithm}": wrong})
    assert refused.value.response["Error"]["Code"] == "BadDigest"
    assert refused.value.response["Error"]["Message"] == f"The {algorithm} you specified did not match the calculated checksum."
    with pytest.raises(ClientError) as invalid:
        s3.put_object(**put, **{f"Checksum{algorithm}": _invalid(right)})
    assert (invalid.value.response["Error"]["Code"], invalid.value.response["Error"]["Message"]) == \
        ("InvalidRequest", f"Value for x-amz-checksum-{algorithm.lower()} header is invalid.")
    assert not _stored(stack, bucket, key)
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm=algorithm)["UploadId"]
    try:
        part = {"Bucket": bucket, "Key": key, "UploadId": upload, "PartNumber": 1, "Body": BODY}
        assert _code(lambda: s3.upload_part(**part, **{f"Checksum{algorithm}": wrong})) == (400, "BadDigest")
        assert s3.list_parts(Bucket=bucket, Key=key, UploadId=upload).get("Parts", []) == []
        assert s3.upload_part(**part, **{f"Checksum{algorithm}": right})["ETag"]
    finally:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)
    s3.put_object(**put, **{f"Checksum{algorithm}": right})
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == BODY


class _Unsent:
    """The raw answer boto3 reads for a request that was captured instead of sent."""

    @staticmethod
    def stream(*_args, **_kwargs):
        return iter([b""])


def _as_over_tls(stack, call) -> tuple[str, str, dict[str, str], bytes]:
    """The request boto3 sends over HTTPS for `call(client)`, built and not sent: a PutObject's
    body aws-chunked, its checksum in a trailer after the last chunk (`x-amz-content-sha256:
    STREAMING-UNSIGNED-PAYLOAD-TRAILER`, boto3's default over TLS; over plain HTTP, as to the
    emulator, it sends the checksum in a header and signs the body's SHA-256 instead)."""
    tls = boto3.client("s3", endpoint_url=stack.emulator_url.replace("http://", "https://"), region_name="us-east-1",
                       aws_access_key_id="local", aws_secret_access_key="local")
    built = []

    def capture(request, **_kwargs):
        body = request.body.read() if hasattr(request.body, "read") else request.body
        headers = {name: value.decode() if isinstance(value, bytes) else value for name, value in request.headers.items()}
        built.append((request.method, urlsplit(request.url).path, headers, body))
        return AWSResponse(request.url, 200, {}, _Unsent())

    tls.meta.events.register("before-send.s3.*", capture)
    call(tls)
    assert built[0][2]["X-Amz-Content-SHA256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    return built[0]


def _aws_chunked_put(stack, bucket: str, key: str, body: bytes, algorithm: str) -> tuple[str, str, dict[str, str], bytes]:
    """The PutObject `_as_over_tls` captures from boto3 with `ChecksumAlgorithm=algorithm`, built
    here (boto3 computes CRC32C and CRC64NVME only with awscrt): the body in one aws-chunked chunk
    (`{hex size}\\r\\n{data}\\r\\n0\\r\\n`, boto3's chunks are 1 MiB) and its checksum in a trailer,
    signed by botocore's S3 signer as boto3 signs it (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`)."""
    path, trailer = f"/{bucket}/{key}", f"x-amz-checksum-{algorithm.lower()}"
    request = AWSRequest("PUT", f"{stack.emulator_url}{path}", headers={
        "x-amz-sdk-checksum-algorithm": algorithm, "Content-Encoding": "aws-chunked", "X-Amz-Trailer": trailer,
        "X-Amz-Decoded-Content-Length": str(len(body))})
    request.context["checksum"] = {"request_algorithm": {"in": "trailer"}}  # what botocore's signer reads
    S3SigV4Auth(Credentials("local", "local"), "s3", "us-east-1").add_auth(request)
    sent = b"%x\r\n%s\r\n0\r\n%s:%s\r\n\r\n" % (len(body), body, trailer.encode(), _checksum(algorithm, body).encode())
    return "PUT", path, dict(request.headers.items()), sent


def _send_chunked(stack, method: str, path: str, headers: dict[str, str], body: bytes):
    """Sends a request as boto3 sends it over TLS (HTTP chunked transfer encoding), to the
    emulator over plain HTTP: (status, headers, body) of its answer."""
    address = urlsplit(stack.emulator_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    try:
        sent = {name: value for name, value in headers.items() if name.lower() != "expect"}
        connection.request(method, path, body=iter([body]), headers=sent, encode_chunked=True)
        answer = connection.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()
    finally:
        connection.close()


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_an_aws_chunked_body_whose_trailing_checksum_is_not_its_own_is_refused(stack, bucket, algorithm):
    """boto3's PutObject over TLS (`_aws_chunked_put`), its body changed on the way (same length)
    so that the checksum in its trailer is another body's: S3 answers 400 BadDigest (a trailing
    checksum is checked as a header one is); so does the emulator, which stored it (moto ignores
    the trailer). A body cut before its last chunk is 400 IncompleteBody. The whole body is stored."""
    key = f"trailer-{algorithm}"
    method, path, headers, body = _aws_chunked_put(stack, bucket, key, BODY, algorithm)
    status, _, answer = _send_chunked(stack, method, path, headers, body.replace(b"pixel", b"pixie", 1))
    error = ElementTree.fromstring(answer)
    assert (status, error.findtext("Code"), error.findtext("Message")) == \
        (400, "BadDigest", f"The {algorithm} you specified did not match the calculated checksum.")
    status, _, answer = _send_chunked(stack, method, path, headers, body[:len(body) // 2])
    assert (status, ElementTree.fromstring(answer).findtext("Code")) == (400, "IncompleteBody")
    assert not _stored(stack, bucket, key)
    assert _send_chunked(stack, method, path, headers, body)[0] == 200
    assert _s3(stack).get_object(Bucket=bucket, Key=key)["Body"].read() == BODY


def test_an_objects_checksum_read_back_is_its_own(stack, bucket):
    """GetObject and HeadObject with checksum mode on answer the CRC32 the object was stored with.
    moto stores the one the request carries without computing it, and takes an aws-chunked
    body's from the first `x-amz-checksum-...:...=` it finds in the raw body: a body carrying such
    text had that text's value, which boto3 then refused on reading the body."""
    body = b"HTTP log\r\nx-amz-checksum-crc32:AAAAAA==\r\n" + BODY
    method, path, headers, sent = _as_over_tls(stack, lambda s3: s3.put_object(Bucket=bucket, Key="logged", Body=body))
    status, answered, _ = _send_chunked(stack, method, path, headers, sent)
    assert (status, answered["x-amz-checksum-crc32"]) == (200, _checksum("CRC32", body))
    s3 = _s3(stack)
    read = s3.get_object(Bucket=bucket, Key="logged", ChecksumMode="ENABLED")
    assert read["ChecksumCRC32"] == _checksum("CRC32", body)
    assert read["Body"].read() == body  # boto3 checks the body against it
    assert s3.head_object(Bucket=bucket, Key="logged", ChecksumMode="ENABLED")["ChecksumCRC32"] == _checksum("CRC32", body)


@pytest.mark.parametrize("algorithm", [None, *ALGORITHMS])
def test_correct_checksums_are_accepted_and_read_back(stack, bucket, algorithm):
    """boto3's PutObject by default (its CRC32, computed by boto3) and with each algorithm (the
    checksum given to boto3), over plain HTTP (the checksum in a header) and as over TLS (in an
    aws-chunked trailer: boto3's own request by default, built by `_aws_chunked_put` with each
    algorithm, whose body is boto3's byte for byte): stored, and read back with the checksum it
    was sent with."""
    s3, name = _s3(stack), algorithm or "CRC32"
    if algorithm:
        s3.put_object(Bucket=bucket, Key=f"header-{name}", Body=BODY, ChecksumAlgorithm=algorithm,
                      **{f"Checksum{algorithm}": _checksum(algorithm, BODY)})
        built = _aws_chunked_put(stack, bucket, f"trailer-ok-{name}", BODY, algorithm)
    else:
        s3.put_object(Bucket=bucket, Key=f"header-{name}", Body=BODY)
        built = _as_over_tls(stack, lambda tls: tls.put_object(Bucket=bucket, Key=f"trailer-ok-{name}", Body=BODY))
        assert built[3] == _aws_chunked_put(stack, bucket, f"trailer-ok-{name}", BODY, "CRC32")[3]
    assert _send_chunked(stack, *built)[0] == 200
    for key in (f"header-{name}", f"trailer-ok-{name}"):
        read = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        assert read[f"Checksum{name}"] == _checksum(name, BODY)
        assert read["Body"].read() == BODY


def _get(stack, target: str, host: str | None = None) -> tuple[int, bytes]:
    """Status and body of a GET of `target` exactly as written (no client normalises its path)."""
    address = urlsplit(stack.emulator_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    try:
        connection.request("GET", target, headers={"Host": host or address.netloc})
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def test_a_path_with_a_doubled_slash_is_not_the_path_that_was_signed(stack, bucket):
    """S3 signs and routes the path as sent: `//cache/x` on a virtual-hosted bucket is the key
    `/cache/x`, and a URL presigned for `/cache/x` does not sign it. The emulator's HTTP server
    (Python's http.server) made every leading `//` one `/` before anything read the path, so such
    a URL served `cache/x`, and the URL presigned for the key `/cache/x` was refused."""
    s3 = _s3(stack)
    s3.put_object(Bucket=bucket, Key="cache/x", Body=b"cache/x")
    s3.put_object(Bucket=bucket, Key="/cache/x", Body=b"/cache/x")
    hosted = boto3.client("s3", endpoint_url=f"http://localhost:{urlsplit(stack.emulator_url).port}",
                          region_name="us-east-1", aws_access_key_id="local", aws_secret_access_key="local",
                          config=Config(signature_version=SIGV4, s3={"addressing_style": "virtual"}))
    for key in ("cache/x", "/cache/x"):
        url = urlsplit(hosted.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}))
        assert _get(stack, f"{url.path}?{url.query}", url.netloc) == (200, key.encode())
        other = url.path.replace("//", "/") if key.startswith("/") else "/" + url.path
        assert _get(stack, f"{other}?{url.query}", url.netloc)[0] == 403, other
    path_style = urlsplit(_presigned(stack, "get_object", bucket, "cache/x", 300))
    assert _get(stack, f"{path_style.path}?{path_style.query}") == (200, b"cache/x")
    for doubled in ("/" + path_style.path, path_style.path.replace("/cache/", "//cache/")):
        status, answer = _get(stack, f"{doubled}?{path_style.query}")
        assert (status, ElementTree.fromstring(answer).findtext("Code")) == (403, "SignatureDoesNotMatch"), doubled


def _refused(stack, bucket: str, key: str, **headers) -> tuple[int, str, str]:
    """(status, Code, Message) of a PutObject of BODY, its SHA-256 signed, with `headers` (unsigned)."""
    status, answer = _first_answer(stack, _signed_put(stack, f"/{bucket}/{key}", BODY, **headers))
    error = ElementTree.fromstring(answer) if answer else None
    return status, error.findtext("Code") if error is not None else "", error.findtext("Message") if error is not None else ""


SINGLE = "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."


def test_two_checksums_in_one_request_are_refused(stack, bucket):
    """S3 takes one checksum a request: two headers, both right, are 400 InvalidRequest (swift's
    test/s3api `test_multi_checksum`, run against AWS). The emulator checked both and stored it."""
    both = {"x-amz-checksum-crc32": _checksum("CRC32", BODY), "x-amz-checksum-sha256": _checksum("SHA256", BODY)}
    assert _refused(stack, bucket, "two-checksums", **both) == (400, "InvalidRequest", SINGLE)
    assert not _stored(stack, bucket, "two-checksums")
    assert _refused(stack, bucket, "two-checksums", **{"x-amz-checksum-sha256": both["x-amz-checksum-sha256"]})[0] == 200


OTHER_ALGORITHM = "Value for x-amz-sdk-checksum-algorithm header is invalid."


def test_a_checksum_of_another_algorithm_than_the_sdk_header_names_is_refused(stack, bucket):
    """`x-amz-sdk-checksum-algorithm: SHA256` with a CRC32 header only: 400 InvalidRequest (swift's
    `test_different_checksum_requested`, against AWS; the emulator stored it)."""
    crc32 = {"x-amz-checksum-crc32": _checksum("CRC32", BODY)}
    assert _refused(stack, bucket, "other-algorithm", **crc32, **{"x-amz-sdk-checksum-algorithm": "SHA256"}) == \
        (400, "InvalidRequest", OTHER_ALGORITHM)
    assert not _stored(stack, bucket, "other-algorithm")
    assert _refused(stack, bucket, "other-algorithm", **crc32, **{"x-amz-sdk-checksum-algorithm": "CRC32"})[0] == 200


def test_an_sdk_checksum_algorithm_without_its_checksum_or_unknown_is_refused(stack, bucket):
    """An algorithm named and no checksum sent (no header, no trailer) is 400 InvalidRequest (swift's
    `test_good_md5_good_sha_no_crc_but_declared`, against AWS), an unknown one (`MD7`) too: with no
    checksum as above, with a CRC32 header as another algorithm than the header's. The emulator
    stored all three."""
    absent = ("x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or "
              "x-amz-trailer headers were found.")
    for algorithm in ("CRC32", "MD7"):
        assert _refused(stack, bucket, "no-checksum", **{"x-amz-sdk-checksum-algorithm": algorithm}) == \
            (400, "InvalidRequest", absent)
    unknown = {"x-amz-sdk-checksum-algorithm": "MD7", "x-amz-checksum-crc32": _checksum("CRC32", BODY)}
    assert _refused(stack, bucket, "no-checksum", **unknown) == (400, "InvalidRequest", OTHER_ALGORITHM)
    assert not _stored(stack, bucket, "no-checksum")


def test_a_trailer_other_than_the_one_announced_or_missing_is_refused(stack, bucket):
    """aws-chunked (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`): a trailer of another name than
    `x-amz-trailer` announced, or none, is 400 MalformedTrailerError (swift's
    `test_strm_unsgnd_pyld_trl_mismatch_trailer`, `..._declared_no_trailer_sent`). The emulator
    stored both (the second without a checksum)."""
    method, path, headers, body = _aws_chunked_put(stack, bucket, "trailers", BODY, "CRC32C")
    malformed = ("MalformedTrailerError", "The request contained trailing data that was not well-formed or did not "
                 "conform to our published schema.")
    renamed = body.replace(b"x-amz-checksum-crc32c:", b"x-amz-checksum-crc32:")
    missing = body[:body.rindex(b"0\r\n") + 3] + b"\r\n"
    for sent in (renamed, missing):
        status, _, answer = _send_chunked(stack, method, path, headers, sent)
        error = ElementTree.fromstring(answer)
        assert (status, error.findtext("Code"), error.findtext("Message")) == (400, *malformed)
    assert not _stored(stack, bucket, "trailers")
    assert _send_chunked(stack, method, path, headers, body)[0] == 200


class _StreamingSigner(S3SigV4Auth):
    """botocore's S3 signer for a body of signed chunks (botocore sends none: it signs the
    request's headers with `payload` as `x-amz-content-sha256`)."""

    def __init__(self, payload: str):
        super().__init__(Credentials("local", "local"), "s3", "us-east-1")
        self._payload = payload

    def payload(self, request) -> str:
        return self._payload


def _signed_chunks_put(stack, path: str, body: bytes, trailer: bool, forged: bool = False):
    """A PutObject of `body` in signed chunks of 8 KiB (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`, with
    `trailer` its -TRAILER variant and a CRC32 trailer), each chunk's signature chained from the
    request's (`s3_bodies.chunk_signature`, AWS's worked example in tests/unit/test_s3_auth_signature.py),
    all zeros if `forged`: (method, path, headers, aws-chunked body)."""
    from devstack import s3_auth, s3_bodies
    payload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" + ("-TRAILER" if trailer else "")
    headers = {"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": str(len(body))}
    if trailer:
        headers["X-Amz-Trailer"] = "x-amz-checksum-crc32"
    request = AWSRequest("PUT", f"{stack.emulator_url}{path}", headers=headers)
    _StreamingSigner(payload).add_auth(request)
    stamp = request.headers["X-Amz-Date"]
    key = s3_auth._signing_key("local", stamp[:8], "us-east-1", "s3")
    scope = f"{stamp}\n{stamp[:8]}/us-east-1/s3/aws4_request"
    previous = request.headers["Authorization"].rsplit("Signature=", 1)[1]
    chunks = [body[at:at + 8192] for at in range(0, len(body), 8192)] + [b""]
    sent = b""
    for data in chunks:
        previous = "0" * 64 if forged else s3_bodies.chunk_signature(key, scope, previous, data)
        sent += b"%x;chunk-signature=%s\r\n%s" % (len(data), previous.encode(), data) + (b"\r\n" if data else b"")
    if trailer:
        trailers = {"x-amz-checksum-crc32": _checksum("CRC32", body)}
        signature = "0" * 64 if forged else s3_bodies.trailer_signature(key, scope, previous, trailers)
        sent += b"x-amz-checksum-crc32:%s\r\nx-amz-trailer-signature:%s\r\n" % (
            trailers["x-amz-checksum-crc32"].encode(), signature.encode())
    return "PUT", path, dict(request.headers.items()), sent + b"\r\n"


@pytest.mark.parametrize("trailer", [False, True])
def test_signed_chunks_whose_signatures_are_not_the_chain_are_refused(stack, bucket, trailer):
    """`STREAMING-AWS4-HMAC-SHA256-PAYLOAD` (and -TRAILER) whose chunk signatures (and trailer
    signature) are all zeros: S3 answers 403 SignatureDoesNotMatch (swift's
    `test_strm_sgnd_pyld_bad_signatures`, `test_strm_sgnd_pyld_trl_bad_trl_sig`, against AWS); the
    emulator stored the body. A good chain with a forged trailer signature only is refused too.
    The chain as AWS computes it is stored."""
    key = f"signed-chunks-{trailer}"
    for forged in (True, False):
        built = _signed_chunks_put(stack, f"/{bucket}/{key}", BODY, trailer, forged=forged)
        if not forged and trailer:
            head, _, _ = built[3].rpartition(b"x-amz-trailer-signature:")
            status, _, answer = _send_chunked(stack, *built[:3], head + b"x-amz-trailer-signature:" + b"0" * 64 + b"\r\n\r\n")
            assert (status, ElementTree.fromstring(answer).findtext("Code")) == (403, "SignatureDoesNotMatch")
        status, _, answer = _send_chunked(stack, *built)
        if forged:
            assert (status, ElementTree.fromstring(answer).findtext("Code")) == (403, "SignatureDoesNotMatch")
            assert not _stored(stack, bucket, key)
        else:
            assert status == 200, answer
    assert _s3(stack).get_object(Bucket=bucket, Key=key)["Body"].read() == BODY

