"""Errors: 401 without credentials, 400 for malformed STOW bodies with nothing left behind."""
from __future__ import annotations

import boto3
import pytest
import requests

from tests.integration.dicom_samples import load, part10, renewed

# A study of its own: other tests store CT_small's own study, and anyone may store under a known UID
_CT = renewed(load("CT_small.dcm"))
CT, CT_STUDY = part10(_CT), str(_CT.StudyInstanceUID)


def test_no_token_gets_401_with_both_challenges(stack):
    response = requests.get(f"{stack.api_url}/studies", timeout=10)
    assert response.status_code == 401
    assert response.raw.headers.getlist("WWW-Authenticate") == ["Basic", "Bearer"]


@pytest.mark.parametrize("authorization", ["Bearer garbage.token.here", "Bearer ", "Basic !!notbase64", "Digest abc"])
def test_bad_credentials_get_401_without_detail(stack, authorization):
    response = requests.get(f"{stack.api_url}/studies", headers={"Authorization": authorization}, timeout=10)
    assert response.status_code == 401
    assert response.content == b""


# Requests that are malformed as well as unauthenticated: the caller is resolved first (routing.route).
MALFORMED_AND_ANONYMOUS = {
    "webhook paging": ("GET", "/albums/a1/webhooks?limit=none", None),
    "capability filter": ("GET", "/capabilities?valid=maybe", None),
    "report-provider paging": ("GET", "/albums/a1/reportproviders?offset=-1", None),
    "webhook edit form": ("PATCH", "/albums/a1/webhooks/w1", "url=a&url=b"),
    "report-provider form": ("POST", "/albums/a1/reportproviders", "name=%ff"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_AND_ANONYMOUS))
def test_no_token_gets_401_before_the_request_is_read(stack, case):
    method, path, form = MALFORMED_AND_ANONYMOUS[case]
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if form else {}
    response = requests.request(method, f"{stack.api_url}{path}", data=form, headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.raw.headers.getlist("WWW-Authenticate") == ["Basic", "Bearer"]


# Body routes that read a caller, with a body of a type none of them declares.
UNDECLARED_TYPE_ROUTES = [("POST", "/studies"), ("POST", "/albums"), ("PATCH", "/albums/a1"),
                          ("POST", "/capabilities"), ("POST", "/studies/1.2.3/comments"),
                          ("POST", "/uploads"), ("POST", "/albums/a1/webhooks")]


@pytest.mark.parametrize("authorization", [None, "Bearer garbage.token.here"])
def test_unauthenticated_body_of_undeclared_type_gets_401_not_415(stack, authorization):
    headers = {"Content-Type": "text/plain", **({"Authorization": authorization} if authorization else {})}
    for method, path in UNDECLARED_TYPE_ROUTES:
        response = requests.request(method, f"{stack.api_url}{path}", data=b"hello", headers=headers, timeout=10)
        assert response.status_code == 401, (method, path, response.status_code, response.text[:80])


def _s3_keys(stack) -> set[str]:
    """The permanent keys of the DICOM bucket: `cache/` is left out, where the renditions function
    builds the series metadata of earlier STOWs asynchronously while a test runs (docs/storage.md)."""
    s3 = boto3.client("s3", endpoint_url=stack.emulator_url, region_name="us-east-1",
                      aws_access_key_id="local", aws_secret_access_key="local")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=f"obelisk-{stack.stage}-dicom")
    return {o["Key"] for page in pages for o in page.get("Contents", []) if not o["Key"].startswith("cache/")}


MALFORMED = {
    "empty body": (b"", 'multipart/related; type="application/dicom"; boundary=abc'),
    "wrong boundary": (b"--xyz\r\nContent-Type: application/dicom\r\n\r\n" + CT + b"\r\n--xyz--\r\n",
                       'multipart/related; type="application/dicom"; boundary=abc'),
    "no closing boundary": (b"--abc\r\nContent-Type: application/dicom\r\n\r\n" + CT,
                            'multipart/related; type="application/dicom"; boundary=abc'),
    "truncated DICOM": (b"--abc\r\nContent-Type: application/dicom\r\n\r\n" + CT[: len(CT) // 2] + b"\r\n--abc--\r\n",
                        'multipart/related; type="application/dicom"; boundary=abc'),
    "not DICOM": (b"--abc\r\nContent-Type: application/dicom\r\n\r\nhello\r\n--abc--\r\n",
                  'multipart/related; type="application/dicom"; boundary=abc'),
    "no boundary parameter": (CT, 'multipart/related; type="application/dicom"'),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_stow_is_400_with_a_reason_and_leaves_nothing(stack, tokens, case):
    body, content_type = MALFORMED[case]
    headers = {"Authorization": f"Bearer {tokens('bob')}"}
    before = _s3_keys(stack)
    response = requests.post(f"{stack.api_url}/studies", data=body,
                             headers={**headers, "Content-Type": content_type}, timeout=30)
    assert response.status_code == 400, response.text
    assert response.json()["detail"]
    assert _s3_keys(stack) == before
    listed = requests.get(f"{stack.api_url}/studies", headers=headers, params={"StudyInstanceUID": CT_STUDY},
                          timeout=10)
    assert listed.status_code == 204
