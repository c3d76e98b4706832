"""STOW under attack: mutated and absurd bodies get a clear 4xx (or a valid answer) and never a
5xx; refused bodies leave no object and no index row behind."""
from __future__ import annotations

import zlib

import boto3
import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from devstack.demo import multipart_body
from tests.conftest import running_stack, token_cache
from tests.integration.dicom_samples import load, part10

VALID = part10(load("CT_small.dcm"))
_MODALITY = VALID.find(b"\x08\x00\x60\x00CS")
UNKNOWN_VR = VALID[:_MODALITY + 4] + b"\x46\x00" + VALID[_MODALITY + 6:]  # pydicom: NotImplementedError
_DS = VALID.find(b"DS", 132) + 4  # the first DS value (explicit VR: tag, VR, 2-byte length)
NOT_A_NUMBER = VALID[:_DS] + b"\x00" + VALID[_DS + 1:]  # pydicom: ValueError in to_json_dict


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A stack of its own: each example lists the DICOM bucket before and after its STOW, and the
    shared stack's bucket holds every earlier test's objects by then (seconds per listing)."""
    yield from running_stack(tmp_path_factory, "stow-fuzzing")


@pytest.fixture(scope="module")
def tokens(stack):
    return token_cache(stack)


def s3_keys(stack) -> set[str]:
    """The permanent keys of the DICOM bucket: `cache/` is left out, where the renditions function
    builds the series metadata of earlier STOWs asynchronously while a test runs (docs/storage.md)."""
    s3 = boto3.client("s3", endpoint_url=stack.emulator_url, region_name="us-east-1",
                      aws_access_key_id="local", aws_secret_access_key="local")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=f"obelisk-{stack.stage}-dicom")
    return {o["Key"] for page in pages for o in page.get("Contents", []) if not o["Key"].startswith("cache/")}


def post(stack, token, body: bytes, content_type: str) -> requests.Response:
    return requests.post(f"{stack.api_url}/studies", data=body, timeout=60,
                         headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})


mutations = st.one_of(
    st.builds(lambda cut: VALID[:cut], st.integers(0, len(VALID) - 1)),
    st.builds(lambda at, byte: VALID[:at] + bytes([byte]) + VALID[at + 1:],
              st.integers(128, len(VALID) - 1), st.integers(0, 255)),
    st.builds(lambda at, junk: VALID[:at] + junk, st.integers(132, 400), st.binary(min_size=1, max_size=64)),
    st.binary(max_size=512),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=mutations)
@example(body=UNKNOWN_VR)
@example(body=NOT_A_NUMBER)
def test_mutated_part10_never_breaks_ingest(stack, tokens, body):
    token = tokens("carol")
    before = s3_keys(stack)
    multipart_bytes, content_type = multipart_body([body])
    response = post(stack, token, multipart_bytes, content_type)
    assert response.status_code in (200, 202, 400, 409), response.text
    if response.status_code == 400:
        assert response.json()["detail"]
        assert s3_keys(stack) == before


def test_absurd_bodies(stack, tokens):
    token = tokens("carol")
    before = s3_keys(stack)
    bomb = zlib.compress(b"\0" * (50 * 1024 * 1024))
    cases = [
        (bomb, "application/dicom"),
        multipart_body([b"x"] * 5000),
        (b"--b\r\n" * 20000, "multipart/related; boundary=b"),
        (VALID[:128] + b"DICM" + b"\xff" * 64, "application/dicom"),
    ]
    for body, content_type in cases:
        response = post(stack, token, body, content_type)
        assert 400 <= response.status_code < 500, (content_type, response.status_code)
    assert s3_keys(stack) == before
