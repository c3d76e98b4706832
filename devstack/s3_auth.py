"""What S3 refuses and moto lets through: the emulator's S3 checks a request's authentication and
its body's digests before moto sees it (`refusal`, called by `devstack/emulator.py`'s CountingApp),
and answers as S3 does, with S3's status, error Code and Message.

- SigV2 presigned URLs (`AWSAccessKeyId=...&Signature=...&Expires=...`, what boto3 presigns
  for S3 unless told `signature_version="s3v4"`) likewise, with botocore's `HmacV1QueryAuth`.
  SigV2 in an `Authorization` header is not checked (no client of the stack sends it).
- SigV4, header-signed (`Authorization: AWS4-HMAC-SHA256 ...`) or query-presigned
  (`X-Amz-Signature=...`): the signature is computed again with botocore's own signer
  (`S3SigV4Auth`, `S3SigV4QueryAuth`) from the request as received and the secret of its access key
  (`CREDENTIALS`: the key pair the stack uses, devstack/stack.py and .chalice/config.json). An
  unknown access key is 403 InvalidAccessKeyId, another signature 403 SignatureDoesNotMatch, a
  presigned URL past its `X-Amz-Date` + `X-Amz-Expires` 403 AccessDenied "Request has expired", a
  header-signed request dated more than 15 minutes away 403 RequestTimeTooSkewed, both mechanisms
  at once 400 InvalidArgument.
  The Host header is the one the request carries, as S3 reads it: a client that sends another
  host's along a redirect (dicomweb-client) is refused (docs/dicomweb.md).
- Unsigned requests to the bucket list or to a bucket (reads, listings, writes) are 403
  AccessDenied, as on a private bucket; a query with a signature but not its credential is 400
  AuthorizationQueryParametersError. Cognito's discovery documents, unsigned in AWS too, pass.
- The body (digests, checksums, aws-chunked bodies and their chunk signatures): `devstack/s3_bodies.py`.
- The path is the one the client sent (`RAW_URI`, kept as sent by `devstack/moto_patches/server.py`:
  Python's http.server made a leading `//` one `/`, so a URL presigned for `/cache/x` served
  `//cache/x` too, which S3 refuses and reads as the key `/cache/x`).

The emulator's clock for these checks can be moved forward (`POST /_emulator/clock
{"offset_seconds": 600}`, 0 to go back), so that a test shows a presigned URL handed out by the
API expiring without waiting for it."""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from calendar import timegm
from functools import lru_cache
from urllib.parse import parse_qsl, urlsplit

from botocore.auth import SIGNED_HEADERS_BLACKLIST, HmacV1QueryAuth, S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from devstack import s3_bodies
from devstack.s3_errors import (
    ACCESS_DENIED,
    ANONYMOUS_WRITE,
    BAD_HEADER_AUTH,
    BAD_QUERY_AUTH,
    BAD_SIGNATURE,
    EXPIRED,
    NO_CONTENT_SHA256,
    SKEWED,
    TWO_MECHANISMS,
    UNKNOWN_KEY,
    Refusal,
)

CREDENTIALS = {"local": "local"}  # access key id -> secret key (devstack/stack.py, .chalice/config.json)
MAX_SKEW_SECONDS = 15 * 60  # S3's RequestTimeTooSkewed bound
MAX_EXPIRES_SECONDS = 7 * 24 * 3600  # S3's bound on X-Amz-Expires
READS = ("GET", "HEAD", "OPTIONS")
STAMP = re.compile(r"\d{8}T\d{6}Z")
PLAIN_PATH = re.compile(r"/[A-Za-z0-9._~/-]*")  # a path S3 signs as sent, with nothing to encode
SIGNED_NAME = re.compile(r"[a-z0-9-]+")
PLAIN_HOST = re.compile(r"[A-Za-z0-9.-]+(?::[0-9]+)?")  # a Host that ends the URL's authority as sent
AUTHORIZATION = re.compile(r"AWS4-HMAC-SHA256 Credential=([^,]+),\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]+)")
_offset = {"seconds": 0.0}  # the clock's offset (`/_emulator/clock`)


def now() -> float:
    """The emulator's clock for S3's checks: the machine's, moved by `/_emulator/clock`."""
    return time.time() + _offset["seconds"]


def clock_endpoint(environ, start_response) -> list[bytes]:
    """`POST {"offset_seconds": 600}` moves the clock S3's checks read that far forward; 0 resets it."""
    if environ.get("REQUEST_METHOD") == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        _offset["seconds"] = float(json.loads(environ["wsgi.input"].read(length) or b"{}").get("offset_seconds", 0.0))
    body = json.dumps({"offset_seconds": _offset["seconds"]}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def refusal(environ: dict, service: str) -> Refusal | None:
    """Why S3 would refuse this request before acting on it, or None. `service` is the emulator's
    reading of the request (`emulator.operation_of`): "s3" when signed for S3, "other" when not
    signed at all (moto serves those as S3) or signed for a service the counters do not name,
    which is not checked here."""
    if environ.get("REQUEST_METHOD") == "OPTIONS":
        return None  # a CORS preflight: S3 answers it from the bucket's CORS rules, unauthenticated
    if service != "s3":
        anonymous = not environ.get("HTTP_AUTHORIZATION") and not environ.get("PATH_INFO", "").startswith("/moto-api")
        if anonymous and _names_a_bucket(environ.get("PATH_INFO", "/"), environ.get("HTTP_HOST", "")):
            return _anonymous_refusal(environ.get("QUERY_STRING", ""))
        return ANONYMOUS_WRITE if anonymous and environ.get("REQUEST_METHOD", "GET") not in READS else None
    query = environ.get("QUERY_STRING", "")
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    presigned = "X-Amz-Signature=" in query or "X-Amz-Algorithm=" in query
    if presigned and authorization:
        return TWO_MECHANISMS
    if presigned:
        return _presigned_refusal(environ, query) or s3_bodies.digest_refusal(environ, _chunk_signing)
    if authorization.startswith("AWS4-HMAC-SHA256"):
        return _header_signed_refusal(environ, authorization) or s3_bodies.digest_refusal(environ, _chunk_signing)
    if "AWSAccessKeyId=" in query and not authorization:
        return _v2_presigned_refusal(environ, query) or s3_bodies.digest_refusal(environ, _chunk_signing)
    if authorization:
        return None  # SigV2 in a header: not sent by any client of the stack, not verified here
    if environ.get("REQUEST_METHOD", "GET") not in READS:
        return ANONYMOUS_WRITE
    return None


def _header_signed_refusal(environ: dict, authorization: str) -> Refusal | None:
    parsed = AUTHORIZATION.match(authorization)
    if not parsed:
        return BAD_HEADER_AUTH
    credential, signed_headers, signature = parsed.groups()
    scope = credential.split("/")
    if len(scope) != 5:
        return BAD_HEADER_AUTH
    if scope[0] not in CREDENTIALS:
        return UNKNOWN_KEY
    payload = environ.get("HTTP_X_AMZ_CONTENT_SHA256")
    if payload is None:
        return NO_CONTENT_SHA256
    stamp = environ.get("HTTP_X_AMZ_DATE", "")
    when = _seconds(stamp)
    if when is None or stamp[:8] != scope[1]:
        return BAD_SIGNATURE
    if abs(now() - when) > MAX_SKEW_SECONDS:
        return SKEWED
    quick = _plain_signature(environ, scope, signed_headers, payload, stamp)
    if quick is not None and hmac.compare_digest(quick, signature):
        return None  # botocore's signer computes the same signature for such a request (`_plain_signature`)
    request = _request(environ, environ.get("QUERY_STRING", ""), signed_headers)
    signer = _HeaderVerifier(Credentials(scope[0], CREDENTIALS[scope[0]]), scope[3], scope[2], payload)
    return None if _matches(signer, request, stamp, signature) else BAD_SIGNATURE


def _plain_signature(environ: dict, scope: list[str], signed_headers: str, payload: str, stamp: str) -> str | None:
    """The SigV4 signature botocore's `S3SigV4Auth` computes for a header-signed request without a
    query string, whose path is plain (unreserved characters: S3 signs it as sent), whose Host is a
    plain name or address with its port, and whose signed headers are distinct lower-case names
    botocore signs, `host` among them; None for any other request (botocore's signer is then
    asked). The signing key is derived once a day per
    key, region and service (`_signing_key`), as the API's own signer does."""
    path = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
    names = signed_headers.split(";")
    if (environ.get("QUERY_STRING") or not PLAIN_PATH.fullmatch(path) or "host" not in names
            or not PLAIN_HOST.fullmatch(environ.get("HTTP_HOST", ""))
            or len(set(names)) != len(names) or not all(SIGNED_NAME.fullmatch(name) for name in names)
            or any(name in SIGNED_HEADERS_BLACKLIST for name in names)):
        return None
    lines = [f"{name}:{' '.join(_header(environ, name).split())}" for name in sorted(names)]
    canonical = "\n".join([environ.get("REQUEST_METHOD", "GET").upper(), path, "", "\n".join(lines) + "\n",
                           ";".join(sorted(names)),
                           _header(environ, "x-amz-content-sha256") if "x-amz-content-sha256" in names else payload])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, f"{scope[1]}/{scope[2]}/{scope[3]}/aws4_request",
                         hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
    key = _signing_key(CREDENTIALS[scope[0]], scope[1], scope[2], scope[3])
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


@lru_cache(maxsize=16)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def _chunk_signing(environ: dict) -> s3_bodies.Signing | None:
    """The signing key, "{X-Amz-Date}\n{scope}" and signature of a header-signed request, from
    which its aws-chunked body's chunk signatures chain (`s3_bodies`); None without one."""
    parsed = AUTHORIZATION.match(environ.get("HTTP_AUTHORIZATION", ""))
    if not parsed:
        return None
    credential, _, signature = parsed.groups()
    key_id, date, region, service, _ = credential.split("/")
    key = _signing_key(CREDENTIALS[key_id], date, region, service)
    return key, f"{environ.get('HTTP_X_AMZ_DATE', '')}\n{date}/{region}/{service}/aws4_request", signature


def _presigned_refusal(environ: dict, query: str) -> Refusal | None:
    params = dict(parse_qsl(query, keep_blank_values=True))
    try:
        scope = params["X-Amz-Credential"].split("/")
        stamp, signature = params["X-Amz-Date"], params["X-Amz-Signature"]
        expires, signed_headers = int(params["X-Amz-Expires"]), params["X-Amz-SignedHeaders"]
    except (KeyError, ValueError):
        return BAD_QUERY_AUTH
    when = _seconds(stamp)
    if (params.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" or len(scope) != 5 or when is None
            or not 0 < expires <= MAX_EXPIRES_SECONDS):
        return BAD_QUERY_AUTH
    if scope[0] not in CREDENTIALS:
        return UNKNOWN_KEY
    if now() > when + expires:
        return EXPIRED
    unsigned_query = "&".join(pair for pair in query.split("&") if not pair.startswith("X-Amz-Signature="))
    signer = S3SigV4QueryAuth(Credentials(scope[0], CREDENTIALS[scope[0]]), scope[3], scope[2])
    request = _request(environ, unsigned_query, signed_headers)
    return None if _matches(signer, request, stamp, signature) else BAD_SIGNATURE


def _v2_presigned_refusal(environ: dict, query: str) -> Refusal | None:
    """A SigV2 presigned URL (`AWSAccessKeyId`, `Expires`, `Signature`: boto3's default for S3 in
    us-east-1 without `signature_version="s3v4"`), checked with botocore's `HmacV1QueryAuth`."""
    params = dict(parse_qsl(query, keep_blank_values=True))
    try:
        key, expires, signature = params["AWSAccessKeyId"], int(params["Expires"]), params["Signature"]
    except (KeyError, ValueError):
        return BAD_QUERY_AUTH
    if key not in CREDENTIALS:
        return UNKNOWN_KEY
    if now() > expires:
        return EXPIRED
    headers = HTTPHeaders()
    for name in ("content-md5", "content-type"):
        if value := _header(environ, name):
            headers[name] = value
    for name, value in params.items():
        if name.lower().startswith("x-amz-"):
            headers[name.lower()] = value
    signer = _V2QueryVerifier(Credentials(key, CREDENTIALS[key]), str(expires))
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
    expected = signer.sign_string(signer.canonical_string(environ.get("REQUEST_METHOD", "GET"), urlsplit(raw), headers))
    return None if hmac.compare_digest(expected, signature) else BAD_SIGNATURE


class _V2QueryVerifier(HmacV1QueryAuth):
    """botocore's SigV2 query signer, dated by the URL's `Expires`."""

    def __init__(self, credentials, expires: str):
        super().__init__(credentials)
        self._expires_value = expires

    def _get_date(self) -> str:
        return self._expires_value


class _HeaderVerifier(S3SigV4Auth):
    """botocore's S3 signer, with the payload hash the request declared (`x-amz-content-sha256`)."""

    def __init__(self, credentials, service_name, region_name, payload: str):
        super().__init__(credentials, service_name, region_name)
        self._payload = payload

    def payload(self, request) -> str:
        return self._payload


def _matches(signer, request: AWSRequest, stamp: str, signature: str) -> bool:
    """Whether `signature` is the one botocore's `signer` computes for the request as received."""
    request.context["timestamp"] = stamp
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    return hmac.compare_digest(expected, signature)


def _request(environ: dict, query: str, signed_headers: str) -> AWSRequest:
    """The request as received, with the headers it signed only and its path as sent (its Host
    header as sent: a client that sends another host's, as dicomweb-client does along a
    redirect, is refused, as S3 refuses it; docs/dicomweb.md)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
    path = raw.split("?", 1)[0]
    headers = {name: _header(environ, name) for name in signed_headers.split(";")}
    url = f"http://{environ.get('HTTP_HOST', '')}{path}" + (f"?{query}" if query else "")
    return AWSRequest(environ.get("REQUEST_METHOD", "GET"), url, headers=headers)


def _header(environ: dict, name: str) -> str:
    key = name.upper().replace("-", "_")
    if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        return environ.get(key, "")
    return environ.get(f"HTTP_{key}", "")


def _seconds(stamp: str) -> float | None:
    """Seconds since the epoch of a SigV4 timestamp (`20261207T040000Z`), None if it is not one."""
    if not STAMP.fullmatch(stamp):
        return None
    fields = (stamp[0:4], stamp[4:6], stamp[6:8], stamp[9:11], stamp[11:13], stamp[13:15])
    return float(timegm(tuple(int(field) for field in fields)))


def _names_a_bucket(path: str, host: str = "") -> bool:
    """Whether an unsigned request is S3's: the bucket list (`/`) or a bucket of the emulator's, with
    or without a key, named in the path or, virtual-hosted, in the host (`{bucket}.localhost`, as
    the public origin forwards reads; devstack/static_site.py). Cognito's discovery documents,
    also served unsigned, are not."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    buckets = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].buckets
    if host.split(".", 1)[0] in buckets and "." in host:
        return True
    bucket = path.lstrip("/").split("/", 1)[0]
    return not bucket or bucket in buckets


def _anonymous_refusal(query: str) -> Refusal:
    """S3's answer to a request to a private bucket without a credential: a query that carries
    a signature but not its credential is a malformed presigned URL; anything else is anonymous."""
    if "X-Amz-Signature=" in query or "X-Amz-Algorithm=" in query or "X-Amz-Date=" in query:
        return BAD_QUERY_AUTH
    return ACCESS_DENIED


