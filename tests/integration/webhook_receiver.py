"""A real HTTP receiver on loopback for webhook tests: records every request it gets and answers
with a programmable status (or not at all)."""
from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    answered: int

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """`answers` are used in order (then `default`); a status of None holds the request for `hold`
    seconds and then answers `default`."""

    answers: list[int | None] = field(default_factory=list)
    default: int = 204
    hold: float = 0.0
    location: str | None = None  # sent with 3xx answers
    received: list[Received] = field(default_factory=list)

    def __post_init__(self):
        self.lock = threading.Lock()
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    status = receiver.answers.pop(0) if receiver.answers else receiver.default
                    receiver.received.append(Received(self.path, dict(self.headers.items()), body,
                                                      time.time(), status or receiver.default))
                    receiver.arrived.set()
                if status is None:
                    time.sleep(receiver.hold)
                    status = receiver.default
                self.send_response(status)
                if receiver.location and 300 <= status < 400:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def of_event(self, event: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.headers.get("X-Kheops-Event") == event]


class SilentReceiver:
    """Accepts connections and never answers: every attempt ends in a read timeout."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(32)
        self.connections: list[socket.socket] = []
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(connection)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"

    def close(self) -> None:
        self.stopped = True
        for connection in self.connections:
            connection.close()
        self.sock.close()


def wait_until(predicate, timeout: float = 60.0, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
