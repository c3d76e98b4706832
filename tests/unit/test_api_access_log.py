"""The local API's `bytes-out` access line (devstack/api_server.py), the measure tests take of
what passes through the API function, is written before the answer goes out: a client holding an
answer finds its line in the log, and a later request's reading never picks up an earlier one's."""
from __future__ import annotations

import io
import sys
import threading

import pytest
import requests
from chalice import Chalice
from chalice.local import ChaliceRequestHandler

from devstack import api_server


class _Recorder(io.StringIO):
    def __init__(self, events: list[str]):
        super().__init__()
        self.events = events

    def write(self, text: str) -> int:
        if text.startswith("bytes-out "):
            self.events.append(text.strip())
        return super().write(text)


@pytest.fixture
def events(monkeypatch):
    happened: list[str] = []
    answer = ChaliceRequestHandler._send_http_response

    def answered(handler, code, headers, body):
        happened.append(f"answered {code}")
        return answer(handler, code, headers, body)

    monkeypatch.setattr(ChaliceRequestHandler, "_send_http_response", answered)
    return happened


def test_the_bytes_out_line_is_written_before_the_answer(events, monkeypatch):
    monkeypatch.setattr(sys, "stdout", _Recorder(events))  # here: pytest sets its own stdout between phases
    app = Chalice(app_name="access-log")

    @app.route("/hello")
    def hello():
        return {"hello": "world"}

    server = api_server.make_server("127.0.0.1", 0, "unit-test", app=app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        answer = requests.get(f"http://127.0.0.1:{server.server.server_port}/api/hello", timeout=10)
    finally:
        server.server.shutdown()
    assert answer.json() == {"hello": "world"}
    assert events == ["bytes-out 200 17 GET /hello", "answered 200"]
