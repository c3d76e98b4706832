"""The lean PutObject (`store.s3_put`): the request S3 gets is the one AWS requires (path-style,
SigV4 with an unsigned payload and the body's CRC32 in a signed `x-amz-checksum-crc32` header, on
HTTP and HTTPS endpoints alike), and what it does not send itself goes through boto3 unchanged."""
from __future__ import annotations

import hashlib
import hmac
from types import SimpleNamespace

import pytest
import urllib3
from botocore.httpchecksum import Crc32Checksum

from chalicelib import config
from chalicelib.store import aws, s3_put

BODY = b"\x00\x01frame bytes" * 100


@pytest.fixture(params=["http://127.0.0.1:4566", "https://s3.eu-west-3.amazonaws.com"])
def endpoint(request, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", request.param)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    config.reset()
    yield request.param
    config.reset()


def test_the_put_is_path_style_and_checksums_its_body_on_every_endpoint(endpoint):
    sent = s3_put.signed_request("obelisk-x-dicom", "wado/1.2/3.4/5.6/0123456789abcdef/frames/1", BODY,
                                 {"Content-Type": "application/octet-stream", "Content-Encoding": "gzip"})
    assert sent.method == "PUT"
    assert sent.url == f"{endpoint}/obelisk-x-dicom/wado/1.2/3.4/5.6/0123456789abcdef/frames/1"
    assert sent.body == BODY
    assert sent.headers["X-Amz-Content-SHA256"] == "UNSIGNED-PAYLOAD"
    assert sent.headers["x-amz-checksum-crc32"] == Crc32Checksum().handle(BODY)
    assert sent.headers["x-amz-sdk-checksum-algorithm"] == "CRC32"
    authorization = sent.headers["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-3/s3/aws4_request" in authorization
    signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    assert {"host", "content-type", "content-encoding", "x-amz-content-sha256", "x-amz-date",
            "x-amz-checksum-crc32", "x-amz-sdk-checksum-algorithm"} <= set(signed)


def test_on_plain_http_beyond_loopback_the_body_s_sha256_is_signed_too(monkeypatch):
    """Without TLS a CRC32 guards against corruption, not tampering: the body is signed there."""
    for name, value in {"AWS_ENDPOINT_URL": "http://10.0.0.5:9000", "AWS_DEFAULT_REGION": "eu-west-3",
                        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret"}.items():
        monkeypatch.setenv(name, value)
    config.reset()
    try:
        sent = s3_put.signed_request("obelisk-x-dicom", "a/key", BODY, {"Content-Type": "application/octet-stream"})
    finally:
        config.reset()
    assert sent.headers["X-Amz-Content-SHA256"] == hashlib.sha256(BODY).hexdigest()
    assert sent.headers["x-amz-checksum-crc32"] == Crc32Checksum().handle(BODY)


def _sigv4(secret: str, date: str, region: str, string_to_sign: str) -> str:
    key = ("AWS4" + secret).encode()
    for part in (date, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def test_the_signature_is_sigv4_over_the_checksum_header(endpoint):
    """Recomputed from the SigV4 specification: a body's checksum changed after signing breaks it."""
    sent = s3_put.signed_request("obelisk-x-dicom", "a/key", BODY, {"Content-Type": "application/octet-stream"})
    headers = {name.lower(): value for name, value in sent.headers.items()}
    signed = headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    host = endpoint.split("://")[1]
    canonical = "\n".join(["PUT", "/obelisk-x-dicom/a/key", "",
                           *(f"{name}:{host if name == 'host' else headers[name]}" for name in signed), "",
                           ";".join(signed), "UNSIGNED-PAYLOAD"])
    stamp = headers["x-amz-date"]
    scope = f"{stamp[:8]}/eu-west-3/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    assert headers["authorization"].endswith("Signature=" + _sigv4("secret", stamp[:8], "eu-west-3", to_sign))


class _Boto3:
    """The S3 client as `s3_put` reads it: its endpoint, and `put_object` calls recorded."""

    def __init__(self, endpoint: str):
        self.meta = SimpleNamespace(endpoint_url=endpoint)
        self.calls: list[dict] = []

    def put_object(self, **arguments):
        self.calls.append(arguments)


@pytest.fixture
def boto3_s3(endpoint, monkeypatch):
    fake = _Boto3(endpoint)
    monkeypatch.setattr(aws, "client", lambda service: fake)
    return fake


class _Refused:
    def request(self, *args, **kwargs):
        raise urllib3.exceptions.NewConnectionError(None, "refused")


class _Busy:
    def request(self, *args, **kwargs):
        return SimpleNamespace(status=503)


class _Stored:
    def request(self, *args, **kwargs):
        return SimpleNamespace(status=200)


@pytest.mark.parametrize("connections", [_Refused, _Busy])
def test_a_put_the_lean_path_cannot_send_goes_through_boto3(boto3_s3, monkeypatch, connections):
    monkeypatch.setattr(s3_put, "_connections", connections)
    s3_put.put_object("bucket-name", "a/key", BODY, ContentType="application/dicom+json", ContentEncoding="gzip")
    assert boto3_s3.calls == [{"Bucket": "bucket-name", "Key": "a/key", "Body": BODY,
                               "ContentType": "application/dicom+json", "ContentEncoding": "gzip"}]


def test_a_put_the_lean_path_sent_is_not_sent_again(boto3_s3, monkeypatch):
    monkeypatch.setattr(s3_put, "_connections", _Stored)
    s3_put.put_object("bucket-name", "a/key", BODY, ContentType="application/octet-stream")
    assert boto3_s3.calls == []


def test_arguments_it_does_not_send_itself_go_through_boto3(boto3_s3):
    s3_put.put_object("bucket-name", "a/key", BODY, ContentType="application/json", Metadata={"a": "b"})
    assert boto3_s3.calls == [{"Bucket": "bucket-name", "Key": "a/key", "Body": BODY,
                               "ContentType": "application/json", "Metadata": {"a": "b"}}]
