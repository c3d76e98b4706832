"""A reverse proxy in front of the local API that refuses what API Gateway and Lambda refuse on AWS:
a request body over 10 MB, or over Lambda's 6 MB payload once API Gateway base64-encodes it (about
4.5 MB of DICOM), answered 413 as API Gateway does. Tests use it to show a client stays within them."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

GATEWAY_BYTES = 10 * 1024 * 1024
LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "content-encoding"}


def within_limits(size: int) -> bool:
    return size <= GATEWAY_BYTES and (size + 2) // 3 * 4 <= LAMBDA_PAYLOAD_BYTES


class GatewayLimits:
    """`with GatewayLimits(api_url) as url:` the API behind the limits at `url`."""

    def __init__(self, api_url: str):
        self.api_url = api_url.rstrip("/")
        self.refused: list[tuple[str, str, int]] = []
        self.largest = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())

    def __enter__(self) -> str:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_port}/api"

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self):
                size = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(size) if size else b""
                proxy.largest = max(proxy.largest, size)
                if not within_limits(size):
                    proxy.refused.append((self.command, self.path, size))
                    self._answer(413, {"Content-Type": "application/json"}, b'{"message":"Request Entity Too Large"}')
                    return
                path = self.path[len("/api"):] if self.path.startswith("/api") else self.path
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
                answer = requests.request(self.command, proxy.api_url + path, data=body, headers=headers,
                                          allow_redirects=False, timeout=60)
                self._answer(answer.status_code, {k: v for k, v in answer.headers.items()
                                                  if k.lower() not in HOP_HEADERS}, answer.content)

            def _answer(self, status: int, headers: dict, body: bytes):
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward  # noqa: N815

            def log_message(self, *args):
                pass

        return Handler
