"""What the lean AWS requests (`s3_put`, `dynamodb_protocol`) share: their SigV4 signature and their
connections. botocore's signer (`SigV4Auth.add_auth` and the request it prepares) costs about
0.1 ms of CPU per request on a quiet core, this one a tenth of it (docs/benchmarks.md, "STOW's API
CPU, s8"): the signing key is derived once a day per credentials, region and service, not for
every request; the rest is the SigV4 specification (canonical request, string to sign) for a
request whose path is already URI-encoded (S3's keys: `quote(key, safe='/~')`; DynamoDB's `/`)
and that has no query string. `tests/unit/test_signed_http.py` checks it against botocore's
signer. `Connections` sends them on kept-alive connections with `http.client`."""
from __future__ import annotations

import datetime
import hashlib
import hmac
import http.client
import select
import ssl
import threading
from functools import cache, lru_cache
from typing import NamedTuple
from urllib.parse import urlsplit

import urllib3
from botocore.exceptions import NoCredentialsError
from botocore.httpsession import DEFAULT_CA_BUNDLE

from chalicelib import config
from chalicelib.store import aws

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"


class SignedRequest(NamedTuple):
    """A request ready to send: its headers carry its signature."""
    method: str
    url: str
    body: bytes
    headers: dict[str, str]
DEFAULT_PORTS = {"http": 80, "https": 443}


def sign(method: str, url: str, headers: dict[str, str], payload_hash: str, service: str, region: str, *,
         content_sha256_header: bool, credentials=None, now: datetime.datetime | None = None) -> dict[str, str]:
    """The request's headers with its SigV4 `Authorization` (every header given is signed, with
    `host`, `X-Amz-Date`, the session token when there is one and, when `content_sha256_header`,
    `X-Amz-Content-SHA256`: S3 requires it). `credentials`: botocore's (`aws.credentials()`)."""
    credentials = credentials or aws.credentials()
    if credentials is None:  # as botocore's signer: no credentials found is its own error
        raise NoCredentialsError()
    frozen = credentials.get_frozen_credentials()
    stamp = (now or datetime.datetime.now(datetime.UTC)).strftime("%Y%m%dT%H%M%SZ")
    headers = {**headers, "X-Amz-Date": stamp}
    if content_sha256_header:
        headers["X-Amz-Content-SHA256"] = payload_hash
    if frozen.token:
        headers["X-Amz-Security-Token"] = frozen.token
    parts = urlsplit(url)
    canonical = {name.lower(): " ".join(value.split()) for name, value in headers.items()}
    canonical["host"] = _host(parts)
    names = sorted(canonical)
    request = "\n".join([method, parts.path or "/", parts.query, *(f"{n}:{canonical[n]}" for n in names), "",
                         ";".join(names), payload_hash])
    scope = f"{stamp[:8]}/{region}/{service}/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(request.encode()).hexdigest()}"
    key = _signing_key(frozen.secret_key, stamp[:8], region, service)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={frozen.access_key}/{scope}, "
                                f"SignedHeaders={';'.join(names)}, Signature={signature}")
    return headers


@lru_cache(maxsize=16)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _host(parts) -> str:
    """The `host` header as sent: the endpoint's, its port only when not the scheme's default."""
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    return host if parts.port in (None, DEFAULT_PORTS.get(parts.scheme)) else f"{host}:{parts.port}"


class Answer(NamedTuple):
    """An answer read whole: its status, headers (case-insensitive `get`) and body."""
    status: int
    headers: http.client.HTTPMessage
    data: bytes


class Connections:
    """Kept-alive HTTP/1.1 connections for the lean requests, a few idle ones per origin, sent on
    with `http.client` itself: urllib3's pool around it (its retries, timeouts and response
    objects) cost 0.15-0.3 ms of CPU more per request, about 4 per stored instance (docs/benchmarks.md,
    "STOW's API CPU, s9"). Any failure to send or read is raised as urllib3's `ProtocolError`, an
    `HTTPError` as before; a kept connection the server closed meanwhile is replaced once for a
    request that can be sent again (`repeatable`: a PUT of an object, a read), not for one that
    may have been applied already (a transaction: `dynamodb_transactions`), whose failure is
    raised. HTTPS verifies the server against botocore's CA bundle, as its clients and urllib3
    here did."""

    CONNECT_TIMEOUT, READ_TIMEOUT = 5, 30

    def __init__(self, idle: int = aws.CONNECTIONS):
        self._idle: dict[str, list[http.client.HTTPConnection]] = {}
        self._most_idle = idle
        self._lock = threading.Lock()
        self._tls = None

    def request(self, method: str, url: str, *, body: bytes, headers: dict[str, str],
                preload_content: bool = True, repeatable: bool = True) -> Answer:
        scheme, _, rest = url.partition("://")
        netloc, _, path = rest.partition("/")
        origin = f"{scheme}://{netloc}"
        for attempt in (1, 2):
            connection, kept = self._take(origin, scheme, netloc)
            try:
                connection.request(method, "/" + path, body=body, headers=headers)
                response = connection.getresponse()
                answer = Answer(response.status, response.headers, response.read())
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                if kept and attempt == 1 and repeatable and not isinstance(error, TimeoutError):
                    continue  # closed by the server while kept: once more on a new connection
                raise urllib3.exceptions.ProtocolError(f"{method} {origin}: {error!r}") from error
            if response.will_close:
                connection.close()
            else:
                self._give_back(origin, connection)
            return answer
        raise AssertionError("unreachable")

    def _take(self, origin: str, scheme: str, netloc: str) -> tuple[http.client.HTTPConnection, bool]:
        while True:
            with self._lock:
                idle = self._idle.get(origin)
                kept = idle.pop() if idle else None
            if kept is None:
                break
            if not _closed_by_server(kept):
                return kept, True
            kept.close()
        if scheme == "https":
            connection = http.client.HTTPSConnection(netloc, timeout=self.CONNECT_TIMEOUT, context=self._context())
        else:
            connection = http.client.HTTPConnection(netloc, timeout=self.CONNECT_TIMEOUT)
        try:
            connection.connect()
        except OSError as error:
            connection.close()
            raise urllib3.exceptions.NewConnectionError(None, f"{origin}: {error!r}") from error
        connection.sock.settimeout(self.READ_TIMEOUT)
        return connection, False

    def _give_back(self, origin: str, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(origin, [])
            if len(idle) < self._most_idle:
                idle.append(connection)
                return
        connection.close()

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context(cafile=DEFAULT_CA_BUNDLE)
        return self._tls


def _closed_by_server(connection: http.client.HTTPConnection) -> bool:
    """Whether the server of a kept connection closed it meanwhile (an idle timeout): its socket
    has something to read, the end of the stream, though no request was sent. Seen before a request
    goes out, so that it is replaced at no risk, even for a request that is not `repeatable`."""
    poller = select.poll()
    poller.register(connection.sock, select.POLLIN)
    return bool(poller.poll(0))


@cache
def connections() -> Connections:
    return Connections()


config.on_reset(connections.cache_clear)
