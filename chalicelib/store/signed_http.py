"""What the lean AWS requests (`s3_put`, `dynamodb_reads`) share: their SigV4 signature and their
connections. botocore's signer (`SigV4Auth.add_auth` and the request it prepares) costs about
0.1 ms of CPU per request on a quiet core, this one a tenth of it (docs/benchmarks.md, "STOW's API
CPU, s8"): the signing key is derived once a day per credentials, region and service, not for
every request; the rest is the SigV4 specification (canonical request, string to sign) for a
request whose path is already URI-encoded (S3's keys: `quote(key, safe='/~')`; DynamoDB's `/`)
and that has no query string. `tests/unit/test_signed_http.py` checks it against botocore's
signer. urllib3's `PoolManager.request` looks the connection pool up from the URL on every call;
`Connections` keeps the pool of each origin."""
from __future__ import annotations

import datetime
import hashlib
import hmac
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


class Connections:
    """urllib3's connections for the lean requests: `request` as `PoolManager.request`, the pool
    of each origin found once."""

    def __init__(self):
        self._manager = urllib3.PoolManager(maxsize=aws.CONNECTIONS, retries=False, ca_certs=DEFAULT_CA_BUNDLE,
                                            timeout=urllib3.Timeout(connect=5, read=30))
        self._pools: dict[str, urllib3.HTTPConnectionPool] = {}
        self._lock = threading.Lock()

    def request(self, method: str, url: str, *, body: bytes, headers: dict[str, str], preload_content: bool = True):
        origin, _, path = url.partition("://")[2].partition("/")
        origin = url[: url.index("://") + 3] + origin
        pool = self._pools.get(origin)
        if pool is None:
            with self._lock:
                pool = self._pools.setdefault(origin, self._manager.connection_from_url(origin))
        return pool.urlopen(method, "/" + path, body=body, headers=headers, retries=False, redirect=False,
                            assert_same_host=False, preload_content=preload_content)


@cache
def connections() -> Connections:
    return Connections()


config.on_reset(connections.cache_clear)
