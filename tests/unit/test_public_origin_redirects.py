"""Where a read is redirected (`dicom_store.presigned_get`, docs/dicomweb.md "Which URL"): a reader
who came through the public origin gets a URL on it whose signature holds for the request the
origin forwards to the bucket (the key as path, the bucket's virtual host); anyone else, or an
object outside the read prefixes, gets the bucket's own URL. Checked with the emulator's verifier
(`devstack/s3_auth.py`, botocore's signer), as S3 would check the forwarded request."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from chalicelib import config
from chalicelib.store import dicom_store
from devstack import s3_auth, s3_errors

KEY = "cache/wado/1.2.3/4.5.6/7.8.9/0123456789abcdef/frames/1,3"


@pytest.fixture
def public_origin(monkeypatch):
    for name, value in {"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_DEFAULT_REGION": "us-east-1",
                        "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "OBELISK_STAGE": "local",
                        "OBELISK_PUBLIC_URL": "http://127.0.0.1:3000",
                        "OBELISK_PUBLIC_STORAGE_ENDPOINT": "http://localhost:4566"}.items():
        monkeypatch.setenv(name, value)
    config.reset()
    yield
    config.reset()


def refusal(url: str, host: str) -> s3_errors.Refusal | None:
    """What S3 answers the GET of `url`'s path and query arriving with `host` as Host."""
    parts = urlsplit(url)
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": parts.path + "?" + parts.query, "QUERY_STRING": parts.query,
               "HTTP_HOST": host, "wsgi.input": None}
    return s3_auth.refusal(environ, "s3")


def test_a_reader_at_the_public_origin_gets_a_url_on_it_that_the_bucket_accepts_forwarded(public_origin):
    with dicom_store.reader_at_public_origin(True):
        url = dicom_store.presigned_get(KEY)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == "http://127.0.0.1:3000"
    assert parts.path == "/" + KEY.replace(",", "%2C")  # the key alone: the path the origin forwards
    assert refusal(url, "obelisk-local-dicom.localhost:4566") is None  # the Host the origin sends
    assert refusal(url, "127.0.0.1:3000") == s3_errors.BAD_SIGNATURE  # the viewer's Host, were it kept
    assert refusal(url, "127.0.0.1") == s3_errors.BAD_SIGNATURE


def test_the_response_overrides_are_signed_in_the_query_the_origin_forwards(public_origin):
    with dicom_store.reader_at_public_origin(True):
        url = dicom_store.presigned_get(KEY, ResponseContentDisposition='attachment; filename="DICOM.ZIP"')
    assert "response-content-disposition=" in urlsplit(url).query
    assert refusal(url, "obelisk-local-dicom.localhost:4566") is None
    dropped = url.replace("response-content-disposition=", "x-dropped=")
    assert refusal(dropped, "obelisk-local-dicom.localhost:4566") == s3_errors.BAD_SIGNATURE


def test_anyone_else_and_other_prefixes_get_the_buckets_own_url(public_origin):
    direct = dicom_store.presigned_get(KEY)
    assert direct.startswith("http://127.0.0.1:4566/obelisk-local-dicom/" + KEY.split(",")[0])
    assert refusal(direct, "127.0.0.1:4566") is None
    with dicom_store.reader_at_public_origin(True):
        assert dicom_store.presigned_get("uploads/abc/body").startswith("http://127.0.0.1:4566/obelisk-local-dicom/")
    with dicom_store.reader_at_public_origin(False):
        assert dicom_store.presigned_get(KEY).startswith("http://127.0.0.1:4566/")


def test_without_a_public_storage_endpoint_every_reader_gets_the_buckets_url(public_origin, monkeypatch):
    monkeypatch.delenv("OBELISK_PUBLIC_STORAGE_ENDPOINT")
    config.reset()
    with dicom_store.reader_at_public_origin(True):
        assert dicom_store.presigned_get(KEY).startswith("http://127.0.0.1:4566/obelisk-local-dicom/")
