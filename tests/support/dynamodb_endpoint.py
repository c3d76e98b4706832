"""What the lean DynamoDB requests' unit tests compare with and send to: the request botocore's
client sends for the same parameters (caught before it leaves), and a local endpoint answering
every POST alike and keeping what it was sent."""
from __future__ import annotations

import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import botocore.session
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from chalicelib import config


def use_example_credentials(monkeypatch) -> None:
    """The process's AWS settings for a unit test that signs requests: a region and example keys,
    no endpoint from the environment, the cached settings read again."""
    for name, value in {"AWS_DEFAULT_REGION": "eu-west-3", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
                        "AWS_SECRET_ACCESS_KEY": "secret"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    config.reset()


class _Raw:
    def stream(self):
        return iter([b"{}"])


def botocore_request(endpoint: str, operation: str, params: dict):
    """What botocore's DynamoDB client sends for `operation` with `params` (as PynamoDB's client is
    configured: no parameter validation)."""
    client = botocore.session.get_session().create_client(
        "dynamodb", region_name="eu-west-3", endpoint_url=endpoint, aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret", config=Config(parameter_validation=False))
    caught = {}

    def catch(request, **_):
        caught["request"] = request
        return AWSResponse(request.url, 200, {}, _Raw())

    client.meta.events.register("before-send.dynamodb.*", catch)
    client._make_api_call(operation, params)
    return caught["request"]


class Endpoint:
    """A local endpoint answering every POST with `status`, `body` and an `x-amz-crc32` (`crc`,
    else the body's); `requests` holds each request's headers and body."""

    def __init__(self, status: int, body: bytes, crc: int | None = None):
        self.requests: list[tuple[dict, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                outer.requests.append((dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("x-amz-crc32", str(zlib.crc32(body) if crc is None else crc))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
