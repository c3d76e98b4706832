"""S3 in an emulator process of its own, and the main emulator's side of it.

The local stack runs two emulator processes (`devstack/stack.py`): the main one (port 4566 under
`make run`) serves DynamoDB, SQS, Cognito and the rest; the S3 one (4567) serves S3. The API and
the event functions reach S3 directly, by botocore's per-service endpoint (`AWS_ENDPOINT_URL_S3`),
as they would reach another service's endpoint on AWS; anything else that sends S3 requests to
the main emulator (tests, the CLI, `aws --endpoint-url http://127.0.0.1:4566 s3 ...`) is forwarded
there unchanged: method, path and query as sent, every header (the Host a signature covers
among them), the body. One emulator was one Python process under one interpreter lock: STOW's
three PUTs per instance and its DynamoDB transaction queued behind each other there (issue 23,
docs/benchmarks.md "S3 in its own emulator process").

The main emulator's `/_emulator/*` endpoints speak for both: call counters and the timeline are
merged with the S3 emulator's, faults named `s3:...` and the S3 clock are set there."""
from __future__ import annotations

import http.client
import json
from urllib.parse import quote, urlsplit

from moto.moto_server.werkzeug_app import PRESERVED_HEADER_NAMES_ENVIRON_KEY

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate", "expect"}
SERVERS_OWN = ("server", "date")  # written first by each process's http.server: the main's writes its own
BODY_PIECE = 1 << 20
TIMEOUT_SECONDS = 120.0


class S3Sibling:
    """The S3 emulator at `url`, seen from the main emulator."""

    def __init__(self, url: str, dispatcher) -> None:
        address = urlsplit(url)
        self.host, self.port = address.hostname, address.port
        self.dispatcher = dispatcher  # moto's DomainDispatcherApplication: which service a request is for

    def serves(self, environ: dict, service: str) -> bool:
        """Whether moto would serve this request as S3 (`service`: `emulator.operation_of`'s)."""
        if service == "s3":
            return True
        if service != "other":
            return False
        path = environ.get("PATH_INFO", "")
        if path.startswith(("/moto-api", "/latest/")) or path == "/favicon.ico":
            return False
        host = self.dispatcher.infer_service_region_host(environ, path) or "s3.us-east-1.amazonaws.com"
        return self.dispatcher.get_backend_for_host(host) == "s3"

    def forward(self, environ: dict, start_response):
        """The S3 emulator's answer to this request, sent on as it came (one connection per request:
        nothing on the API's path comes through here)."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT_SECONDS)
        headers = _headers_of(environ)
        body = _body_of(environ, headers)
        connection.putrequest(environ["REQUEST_METHOD"], _target_of(environ), skip_host=True,
                              skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders()
        for piece in body:
            connection.send(piece)
        answer = connection.getresponse()
        start_response(f"{answer.status} {answer.reason}", _answer_headers(answer.getheaders()))
        return _streamed(answer, connection)

    def get(self, path: str):
        return self._json("GET", path)

    def send(self, method: str, path: str, body: bytes = b""):
        return self._json(method, path, body)

    def _json(self, method: str, path: str, body: bytes = b""):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT_SECONDS)
        try:
            connection.request(method, path, body=body or None,
                               headers={"Content-Type": "application/json"} if body else {})
            return json.loads(connection.getresponse().read() or b"null")
        finally:
            connection.close()


def _target_of(environ: dict) -> str:
    """The request target as the client sent it (werkzeug keeps it; PATH_INFO is decoded)."""
    raw = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if raw:
        return raw
    query = environ.get("QUERY_STRING", "")
    return quote(environ.get("PATH_INFO", "/"), safe="/~!$&'()*+,;=:@") + (f"?{query}" if query else "")


def _headers_of(environ: dict) -> list[tuple[str, str]]:
    """Every header of the request under the name it was sent with (moto's server keeps them)."""
    names = environ.get(PRESERVED_HEADER_NAMES_ENVIRON_KEY) or {}
    headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = names.get(key) or key[5:].replace("_", "-").title()
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value != "":
            name = "Content-Type" if key == "CONTENT_TYPE" else "Content-Length"
        else:
            continue
        if name.lower() not in HOP_BY_HOP:
            headers.append((name, value))
    return headers


def _body_of(environ: dict, headers: list[tuple[str, str]]):
    """The request's body in pieces: read from the connection as far as its length when it is
    known, else (a chunked body, werkzeug having undone the chunks) read whole and sent with its
    length."""
    stream = environ["wsgi.input"]
    length = next((int(value) for name, value in headers if name.lower() == "content-length"), None)
    if length is not None:
        return _pieces(stream, length)
    body = b"".join(iter(lambda: stream.read(BODY_PIECE), b"")) if environ.get("wsgi.input_terminated") else b""
    if body or environ.get("REQUEST_METHOD") in ("PUT", "POST"):
        headers.append(("Content-Length", str(len(body))))
    return [body] if body else []


def _pieces(stream, length: int):
    while length > 0:
        piece = stream.read(min(BODY_PIECE, length))
        if not piece:
            return
        length -= len(piece)
        yield piece


def _answer_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The S3 emulator's answer headers but the connection's and the first Server and Date, which
    its http.server wrote before the application's (moto adds a `Server` of its own to some)."""
    kept, skipped = [], set()
    for name, value in headers:
        lower = name.lower()
        if lower in HOP_BY_HOP or (lower in SERVERS_OWN and lower not in skipped):
            skipped.add(lower)
            continue
        kept.append((name, value))
    return kept


def _streamed(answer: http.client.HTTPResponse, connection: http.client.HTTPConnection):
    try:
        while piece := answer.read(BODY_PIECE):
            yield piece
    finally:
        connection.close()


def merged_counts(own: dict, sibling: dict) -> dict:
    counts = dict(own)
    for name, count in sibling.items():
        counts[name] = counts.get(name, 0) + count
    return counts
