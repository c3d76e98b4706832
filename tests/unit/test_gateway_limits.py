"""The local API's gateway: a function still running after the integration timeout answers 504
`Endpoint request timed out`, and an answer over Lambda's 6 MiB answers 502 `Internal server
error`, as API Gateway does (devstack/gateway_limits.py). A small Chalice app stands for Obelisk's."""
from __future__ import annotations

import threading
import time

import pytest
import requests
from chalice import Chalice, Response

from devstack import api_server


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

    app.api.binary_types.append("application/octet-stream")
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
