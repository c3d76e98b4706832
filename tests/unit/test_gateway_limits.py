"""The local API's gateway: a function still running after the integration timeout answers 504
`Endpoint request timed out`, and an answer over Lambda's 6 MiB answers 502 `Internal server
error`, as API Gateway does (devstack/gateway_limits.py); a body of one of the API's binary media
types reaches the function base64-encoded in the event, as API Gateway sends it, and counts at that
size against Lambda's 6 MiB. A small Chalice app stands for Obelisk's."""
from __future__ import annotations

import base64
import hashlib
import os
import threading
import time

import pytest
import requests
from chalice import Chalice, Response

from chalicelib.api.routing import request_body
from devstack import api_server

MB = 1000 * 1000
STOW_TYPE = 'multipart/related; type="application/dicom"; boundary=b0undary'


@pytest.fixture
def gateway(monkeypatch):
    monkeypatch.setenv("OBELISK_GATEWAY_TIMEOUT_SECONDS", "1")
    app = Chalice(app_name="gateway-limits")
    release = threading.Event()

    @app.route("/slow")
    def slow():
        release.wait(10)  # the work outlasts the gateway's timeout
        return {"done": True}

    @app.route("/big/{size}")
    def big(size):
        return Response(body=b"x" * int(size), headers={"Content-Type": "application/octet-stream"})

    @app.route("/event", methods=["POST"], content_types=["multipart/related", "application/json"])
    def event():
        """What the function was handed, and the bytes it reads from it."""
        original = app.current_request.to_original_event()
        body = request_body(app.current_request)
        return {"isBase64Encoded": original.get("isBase64Encoded"), "body_is_text": isinstance(original["body"], str),
                "body_length": len(original["body"]), "bytes_sha256": hashlib.sha256(body).hexdigest()}

    app.api.binary_types.extend(["application/octet-stream", "multipart/related"])
    server = api_server.make_server("127.0.0.1", 0, "unit-test", app=app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server.server_port}/api"
    release.set()
    server.server.shutdown()


def test_a_function_running_past_the_timeout_gets_504(gateway):
    started = time.monotonic()
    answer = requests.get(f"{gateway}/slow", timeout=10)
    assert answer.status_code == 504
    assert answer.json() == {"message": "Endpoint request timed out"}
    assert time.monotonic() - started < 5


def test_an_answer_over_6_mib_once_base64_encoded_gets_502(gateway):
    fits = requests.get(f"{gateway}/big/4000000", headers={"Accept": "application/octet-stream"}, timeout=10)
    assert fits.status_code == 200 and len(fits.content) == 4000000
    too_big = requests.get(f"{gateway}/big/5000000", headers={"Accept": "application/octet-stream"}, timeout=10)
    assert too_big.status_code == 502
    assert too_big.json() == {"message": "Internal server error"}


def test_a_stow_body_reaches_the_function_base64_encoded_as_api_gateway_sends_it(gateway):
    """The media type matches a binary type whatever the Content-Type's parameters: the event's body
    is the base64 text with `isBase64Encoded`, and the function reads the bytes sent."""
    sent = os.urandom(300_001)
    answer = requests.post(f"{gateway}/event", data=sent, headers={"Content-Type": STOW_TYPE}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"isBase64Encoded": True, "body_is_text": True,
                             "body_length": len(base64.b64encode(sent)),
                             "bytes_sha256": hashlib.sha256(sent).hexdigest()}


def test_a_json_body_is_not_base64_encoded(gateway):
    sent = b'{"name": "x"}'
    answer = requests.post(f"{gateway}/event", data=sent, headers={"Content-Type": "application/json"}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["isBase64Encoded"] is False
    assert answer.json()["bytes_sha256"] == hashlib.sha256(sent).hexdigest()


def test_lambdas_6_mib_applies_to_the_encoded_event(gateway):
    """4.8 MB is under 6 MiB as bytes, over it base64-encoded: a binary body is refused, a text one
    of the same size reaches the function."""
    size = int(4.8 * MB)
    binary = requests.post(f"{gateway}/event", data=os.urandom(size), headers={"Content-Type": STOW_TYPE}, timeout=30)
    assert binary.status_code == 413
    assert binary.json()["message"] == "Request Too Long"
    text = b'{"x": "' + b"a" * (size - 9) + b'"}'
    assert requests.post(f"{gateway}/event", data=text, headers={"Content-Type": "application/json"},
                         timeout=30).status_code == 200
    fits = os.urandom(int(4.6 * MB))
    answer = requests.post(f"{gateway}/event", data=fits, headers={"Content-Type": STOW_TYPE}, timeout=30)
    assert answer.status_code == 200
    assert answer.json()["bytes_sha256"] == hashlib.sha256(fits).hexdigest()
