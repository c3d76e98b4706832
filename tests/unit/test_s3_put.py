"""The lean PutObject (`store.s3_put`): the request S3 gets is the one AWS requires (path-style,
SigV4 with the body's SHA-256 signed on HTTP and HTTPS endpoints alike), and what it does not send
itself goes through boto3 unchanged."""
from __future__ import annotations

import hashlib
from types import SimpleNamespace

import pytest
import urllib3

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


def test_the_put_is_path_style_and_signs_its_body_on_every_endpoint(endpoint):
    sent = s3_put.signed_request("obelisk-x-dicom", "wado/1.2/3.4/5.6/0123456789abcdef/frames/1", BODY,
                                 {"Content-Type": "application/octet-stream", "Content-Encoding": "gzip"})
    assert sent.method == "PUT"
    assert sent.url == f"{endpoint}/obelisk-x-dicom/wado/1.2/3.4/5.6/0123456789abcdef/frames/1"
    assert sent.body == BODY
    assert sent.headers["X-Amz-Content-SHA256"] == hashlib.sha256(BODY).hexdigest()
    authorization = sent.headers["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-3/s3/aws4_request" in authorization
    signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    assert {"host", "content-type", "content-encoding", "x-amz-content-sha256", "x-amz-date"} <= set(signed)


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
