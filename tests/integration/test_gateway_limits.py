"""The local API refuses what API Gateway and Lambda refuse, with the answers AWS gives
(devstack/gateway_limits.py, evidence in docs/deploy.md): a body over 10 MiB, a Lambda event over
6 MiB (binary bodies are base64-encoded in it), and it reads chunked bodies whole as API Gateway
does, so dicomweb-client (which chunks any body over 1 MB) stores through it."""
from __future__ import annotations

import io
import socket
import subprocess
import sys
import uuid
from urllib.parse import urlencode, urlsplit

import pydicom
import pytest
import requests

from tests.conftest import DELAYED_ACK_SECONDS, ROOT, kept_alive_wait
from tests.dicomweb_session import DICOMwebClient
from tests.integration import dicom_samples as samples

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
MB = 1000 * 1000
STOW_TYPE = 'multipart/related; type="application/dicom"; boundary={}'


def instance_of(pixel_bytes: int) -> bytes:
    """One Part-10 CT instance with `pixel_bytes` of 16-bit pixel data."""
    return samples.big_series(1, rows=pixel_bytes // 2000, columns=1000)[0]


def stow_body(*instances: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = b"".join(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + i + b"\r\n"
                     for i in instances)
    return parts + f"--{boundary}--\r\n".encode(), STOW_TYPE.format(boundary)


def study_of(instance: bytes) -> str:
    return str(pydicom.dcmread(io.BytesIO(instance), stop_before_pixels=True).StudyInstanceUID)


def chunks(body: bytes, size: int = 1024 * 1024):
    for offset in range(0, len(body), size):
        yield body[offset:offset + size]


def test_a_7_mb_stow_body_gets_413_request_too_long_naming_the_large_upload_path(stack, api):
    instance = instance_of(7 * MB)
    body, content_type = stow_body(instance)
    answer = api("alice").post(f"{stack.api_url}/studies", data=body, headers={"Content-Type": content_type})
    assert answer.status_code == 413
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json()["message"] == "Request Too Long"
    assert "/api/uploads" in answer.json()["detail"]
    assert api("alice").get(f"{stack.api_url}/studies", params={"StudyInstanceUID": study_of(instance)}).status_code == 204


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_11_mb_body_gets_api_gateways_413_text(stack, api, chunked):
    body, content_type = stow_body(instance_of(11 * MB))
    answer = api("alice").post(f"{stack.api_url}/studies", data=chunks(body) if chunked else body,
                               headers={"Content-Type": content_type})
    assert answer.status_code == 413
    assert answer.text == "HTTP content length exceeded 10485760 bytes."


def test_a_chunked_form_body_reaches_the_function_whole(stack, api):
    """API Gateway reads a chunked body whole; the local API used to see an empty body."""
    name = f"chunked {uuid.uuid4().hex[:6]}"
    form = urlencode({"name": name, "description": "x" * 2000}).encode()
    answer = api("alice").post(f"{stack.api_url}/albums", data=chunks(form, 300),
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["name"] == name


def test_dicomweb_client_with_default_settings_stores_a_4_mb_instance_and_reads_it_back(stack, tokens):
    client = DICOMwebClient(url=stack.api_url, headers={"Authorization": f"Bearer {tokens('alice')}"})
    instance = instance_of(4 * MB)
    dataset = pydicom.dcmread(io.BytesIO(instance))
    assert len(instance) > client._chunk_size  # the client sends it chunked
    stored = client.store_instances([dataset])
    assert "FailedSOPSequence" not in stored
    back = client.retrieve_instance(dataset.StudyInstanceUID, dataset.SeriesInstanceUID, dataset.SOPInstanceUID)
    assert back.PixelData == dataset.PixelData
    assert back.SOPInstanceUID == dataset.SOPInstanceUID


def test_dicomweb_client_storing_a_9_mb_instance_is_told_of_the_large_upload_path(stack, tokens):
    client = DICOMwebClient(url=stack.api_url, headers={"Authorization": f"Bearer {tokens('alice')}"})
    dataset = pydicom.dcmread(io.BytesIO(instance_of(9 * MB)))
    with pytest.raises(requests.HTTPError) as refused:
        client.store_instances([dataset])
    assert refused.value.response.status_code == 413
    assert "/api/uploads" in refused.value.response.json()["detail"]


def test_the_uploader_sends_a_5_mb_instance_through_the_large_upload_path(stack, tokens, tmp_path):
    """5 MB is under the 6 MB event limit as bytes but not once base64-encoded."""
    instance = instance_of(5 * MB)
    (tmp_path / "one.dcm").write_bytes(instance)
    run = subprocess.run([sys.executable, "-m", "obelisk_cli", "upload", "--url", stack.api_url, "--bearer-token",
                          tokens("alice"), "--quiet", str(tmp_path)],
                         capture_output=True, timeout=300, cwd=ROOT, check=False)
    summary = run.stdout.decode().strip().splitlines()[-1]
    assert run.returncode == 0, (summary, run.stderr.decode()[-2000:])
    assert "1 stored, 0 failed" in summary and "0 batch(es), 1 large upload(s)" in summary


def test_a_kept_alive_connection_answers_without_waiting_for_a_delayed_ack(stack):
    """A request on a kept-alive connection (what browsers, OHIF and dicomweb-client send) is
    answered as API Gateway answers it, without Linux's delayed acknowledgement: chalice's
    handler wrote the headers and the body in two sends with Nagle's algorithm on, so every
    answer with a body after the first waited 40 ms (GET /albums 56 ms against 13 ms). Kept-alive
    and fresh connections are timed in turns, so load cancels out."""
    assert requests.get(f"{stack.api_url}/liveness", timeout=30).status_code == 200
    assert kept_alive_wait(f"{stack.api_url}/liveness") < DELAYED_ACK_SECONDS / 2


@pytest.mark.parametrize("path", ["/studies", "/albums", "/nope", "/../x"])
def test_a_head_answer_has_no_body_and_the_connection_stays_in_step(stack, tokens, path):
    """A HEAD is answered with headers only (RFC 9110 9.3.2), so the next request on the kept-alive
    connection gets its own answer: the local API sent the 404 body after HEAD's headers, and the
    next answer read began with it (requests: BadStatusLine; curl -I: "HTTP/0.9"; outside check
    round 14)."""
    address = urlsplit(stack.api_url)
    request = (f"{{}} {address.path}{{}} HTTP/1.1\r\nHost: {address.netloc}\r\n"
               f"Authorization: Bearer {tokens('alice')}\r\n\r\n")
    with socket.create_connection((address.hostname, address.port), timeout=60) as connection:
        connection.sendall((request.format("HEAD", path) + request.format("GET", "/liveness")).encode())
        received = b""
        while not received.endswith(b'"alive"}'):  # the liveness answer ends the exchange
            received += connection.recv(65536)
    head, rest = received.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 ")
    assert rest.startswith(b"HTTP/1.1 200"), rest[:200]  # the GET's answer follows HEAD's headers at once


@pytest.mark.parametrize(("method", "path"), [("GET", "/nope"), ("DELETE", "/inboxinfo"), ("PATCH", "/studies")])
def test_no_route_is_the_gateways_404_in_the_error_shape_with_nosniff(stack, method, path):
    """An unknown path and a known path without that method both get API Gateway's no-route
    answer (infra/gateway_responses.py): 404 `{"message", "detail"}`, never Chalice's 405
    `{"Code", "Message"}`, with `X-Content-Type-Options: nosniff` as every other answer."""
    response = requests.request(method, f"{stack.api_url}{path}", timeout=10)
    assert response.status_code == 404
    assert set(response.json()) == {"message", "detail"}
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("Access-Control-Allow-Origin") == "*"
