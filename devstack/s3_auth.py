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
- The body: an `x-amz-content-sha256` that is a hex digest and not the body's is 400
  XAmzContentSHA256Mismatch (so a Content-Length shorter than the body sent, whose tail moto would
  drop, is refused when the body's hash is signed); a `Content-MD5` that is not the body's is 400
  BadDigest; a checksum of S3's (`x-amz-checksum-crc32`, `-crc32c`, `-crc64nvme`, `-sha1`,
  `-sha256`) that is not the body's is 400 BadDigest "The SHA256 you specified did not match the
  calculated checksum." (the algorithm's name in capitals), and one that is not a base64 digest of
  the algorithm's size (`y/Q5Jh==` for `y/Q5Jg==`) 400 InvalidRequest "Value for
  x-amz-checksum-crc32 header is invalid.", on a PutObject, an UploadPart or any other request
  whose body it names (CompleteMultipartUpload's names the whole object: not checked), in that
  order of precedence. The codes and messages are S3's as openstack/swift's test/s3api
  (`test_object_checksums.py`, `test_input_errors.py`, written to run against AWS too) pins them.
  moto checks none of these checksums (moto.s3.responses `_get_checksum` stores the value sent).
  CRC32 is `s3_put.crc32`, the API's own (ISA-L's); CRC32C and CRC64NVME are `devstack/crc.py`'s,
  in Python, not awscrt's (installed, awscrt would replace botocore's signers: crc.py says why).
- An aws-chunked body (`x-amz-content-sha256: STREAMING-...`; boto3 sends `STREAMING-UNSIGNED-
  PAYLOAD-TRAILER` over TLS, its checksum in a trailer after the last chunk; over plain HTTP, as to
  this emulator, it sends a header and signs the body's SHA-256) is decoded here: its data is
  checked against a checksum header or its trailing `x-amz-checksum-*:` line alike (swift's
  `test_strm_unsgnd_pyld_trl_with_trailer_checksum_mismatch`: BadDigest, "trailing header" for an
  invalid value), a body that ends before its zero-size chunk is 400 IncompleteBody "The request
  body terminated unexpectedly", and data of another length than `x-amz-decoded-content-length`
  400 IncompleteBody too (moto answered the first with a 500 and stored the second). A checked trailer's checksum is what moto stores
  (`TRAILER_CHECKSUM`, `devstack/moto_patches/checksums.py`; moto took the first
  `x-amz-checksum-...:...=` anywhere in the raw body). `UNSIGNED-PAYLOAD` and `STREAMING-*`
  bodies are not hashed (their integrity is their checksum, or TLS in AWS).
- One checksum a request, the one announced (`_declaration_refusal`, before the body is read):
  two checksum headers, or two trailers named in `x-amz-trailer`, are 400 InvalidRequest
  "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed." (a header
  and a trailer: without its second sentence); an `x-amz-sdk-checksum-algorithm` with no checksum
  header or trailer "x-amz-sdk-checksum-algorithm specified, but no corresponding
  x-amz-checksum-* or x-amz-trailer headers were found.", one naming another algorithm than the
  checksum's (an unknown one, `MD7`, included) "Value for x-amz-sdk-checksum-algorithm header is
  invalid."; an `x-amz-trailer` naming no checksum of S3's "The value specified in the x-amz-trailer
  header is not supported", and one on a body that is not aws-chunked 400 MalformedTrailerError.
  The trailers sent are the ones announced (`_trailer_refusal`): another name, or the announced one
  missing, is 400 MalformedTrailerError; unannounced trailers are read as before. swift's
  test/s3api pins each (`test_object_checksums.py`, `test_input_errors.py`).
- Signed chunks (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`, `_chunk_signature_refusal`): each
  chunk's signature is the chain AWS's "sigv4-streaming" page defines from the Authorization
  header's signature (`chunk_signature`), the trailer's `x-amz-trailer-signature` the one of its
  "sigv4-streaming-trailers" page (`trailer_signature`; both pages' worked examples are
  tests/unit/test_s3_auth_signature.py's); another is 403 SignatureDoesNotMatch, a chunk without
  one, or a -TRAILER body without its trailer signature, 400 IncompleteBody (swift's
  `test_strm_sgnd_pyld_*`). ECDSA-signed chunks (SigV4a) are not verified: no client of the stack
  sends them. Not checked either: the 8 KiB minimum of a chunk that is not the last.
- A presigned URL's unsigned `Content-MD5` is checked as a header-signed one is (400 BadDigest,
  SigV4); a SigV2 URL signs `Content-MD5` whether sent or not (AWS's RESTAuthentication page:
  it is a line of the StringToSign), so one sent with a URL presigned without it is 403
  SignatureDoesNotMatch, as in S3.
- The path is the one the client sent (`RAW_URI`, kept as sent by `devstack/moto_patches/server.py`:
  Python's http.server made a leading `//` one `/`, so a URL presigned for `/cache/x` served
  `//cache/x` too, which S3 refuses and reads as the key `/cache/x`).

The emulator's clock for these checks can be moved forward (`POST /_emulator/clock
{"offset_seconds": 600}`, 0 to go back), so that a test shows a presigned URL handed out by the
API expiring without waiting for it."""
from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import re
import time
from calendar import timegm
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import parse_qsl, urlsplit

from botocore.auth import SIGNED_HEADERS_BLACKLIST, HmacV1QueryAuth, S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from chalicelib.store import s3_put
from devstack import crc

CREDENTIALS = {"local": "local"}  # access key id -> secret key (devstack/stack.py, .chalice/config.json)
MAX_SKEW_SECONDS = 15 * 60  # S3's RequestTimeTooSkewed bound
MAX_EXPIRES_SECONDS = 7 * 24 * 3600  # S3's bound on X-Amz-Expires
READS = ("GET", "HEAD", "OPTIONS")
STAMP = re.compile(r"\d{8}T\d{6}Z")
HEX_SHA256 = re.compile(r"[0-9a-f]{64}")
PLAIN_PATH = re.compile(r"/[A-Za-z0-9._~/-]*")  # a path S3 signs as sent, with nothing to encode
SIGNED_NAME = re.compile(r"[a-z0-9-]+")
PLAIN_HOST = re.compile(r"[A-Za-z0-9.-]+(?::[0-9]+)?")  # a Host that ends the URL's authority as sent
AUTHORIZATION = re.compile(r"AWS4-HMAC-SHA256 Credential=([^,]+),\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]+)")
READ_BODY = "obelisk.s3_auth.body"  # environ key: (the stream put back, the body read)
TRAILER_CHECKSUM = "obelisk.s3_auth.trailer_checksum"  # environ key: (algorithm, value) of a checked trailer
CHUNK_SIZE = re.compile(rb"[0-9a-fA-F]+")
SIGNED_CHUNKS = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"  # and its -TRAILER variant: chunks signed in a chain
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_offset = {"seconds": 0.0}  # the clock's offset (`/_emulator/clock`)


class Refusal(NamedTuple):
    """S3's error answer: HTTP status, error Code, Message."""

    status: str
    code: str
    message: str

    def answer(self, start_response) -> list[bytes]:
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{self.code}</Code>'
                f"<Message>{self.message}</Message></Error>").encode()
        start_response(self.status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
        return [body]


ANONYMOUS_WRITE = ACCESS_DENIED = Refusal("403 Forbidden", "AccessDenied", "Access Denied")
EXPIRED = Refusal("403 Forbidden", "AccessDenied", "Request has expired")
UNKNOWN_KEY = Refusal("403 Forbidden", "InvalidAccessKeyId",
                      "The AWS Access Key Id you provided does not exist in our records.")
BAD_SIGNATURE = Refusal("403 Forbidden", "SignatureDoesNotMatch",
                        "The request signature we calculated does not match the signature you provided. "
                        "Check your key and signing method.")
SKEWED = Refusal("403 Forbidden", "RequestTimeTooSkewed",
                 "The difference between the request time and the current time is too large.")
TWO_MECHANISMS = Refusal("400 Bad Request", "InvalidArgument",
                         "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
                         "Signature query string parameter or the Authorization header should be specified")
BAD_QUERY_AUTH = Refusal("400 Bad Request", "AuthorizationQueryParametersError",
                         "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
                         "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
BAD_HEADER_AUTH = Refusal("400 Bad Request", "AuthorizationHeaderMalformed",
                          "The authorization header is malformed.")
NO_CONTENT_SHA256 = Refusal("400 Bad Request", "InvalidRequest",
                            "Missing required header for this request: x-amz-content-sha256")
BAD_CONTENT_SHA256 = Refusal("400 Bad Request", "InvalidArgument",
                             "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
                             "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, "
                             "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER "
                             "or a valid sha256 value.")
SHA256_MISMATCH = Refusal("400 Bad Request", "XAmzContentSHA256Mismatch",
                          "The provided 'x-amz-content-sha256' header does not match what was computed.")
MD5_MISMATCH = Refusal("400 Bad Request", "BadDigest", "The Content-MD5 you specified did not match what we received.")
MD5_INVALID = Refusal("400 Bad Request", "InvalidDigest", "The Content-MD5 you specified was invalid.")
UNTERMINATED = Refusal("400 Bad Request", "IncompleteBody", "The request body terminated unexpectedly")
WRONG_LENGTH = Refusal("400 Bad Request", "IncompleteBody",
                       "You did not provide the number of bytes specified by the Content-Length HTTP header")
SINGLE_CHECKSUM = Refusal("400 Bad Request", "InvalidRequest",
                          "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
HEADER_AND_TRAILER = Refusal("400 Bad Request", "InvalidRequest", "Expecting a single x-amz-checksum- header")
UNDECLARED_CHECKSUM = Refusal("400 Bad Request", "InvalidRequest",
                              "x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or "
                              "x-amz-trailer headers were found.")
OTHER_ALGORITHM = Refusal("400 Bad Request", "InvalidRequest", "Value for x-amz-sdk-checksum-algorithm header is invalid.")
UNSUPPORTED_TRAILER = Refusal("400 Bad Request", "InvalidRequest",
                              "The value specified in the x-amz-trailer header is not supported")
MALFORMED_TRAILER = Refusal("400 Bad Request", "MalformedTrailerError",
                            "The request contained trailing data that was not well-formed or did not conform to our "
                            "published schema.")


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


CHECKSUMS = {  # S3's checksum algorithms: (the digest's size in bytes, the header's value for a body)
    "crc32": (4, s3_put.crc32),
    "crc32c": (4, lambda body: _b64(crc.crc32c(body).to_bytes(4, "big"))),
    "crc64nvme": (8, lambda body: _b64(crc.crc64nvme(body).to_bytes(8, "big"))),
    "sha1": (20, lambda body: _b64(hashlib.sha1(body).digest())),
    "sha256": (32, lambda body: _b64(hashlib.sha256(body).digest())),
}


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
        return _presigned_refusal(environ, query) or _digest_refusal(environ)
    if authorization.startswith("AWS4-HMAC-SHA256"):
        return _header_signed_refusal(environ, authorization) or _digest_refusal(environ)
    if "AWSAccessKeyId=" in query and not authorization:
        return _v2_presigned_refusal(environ, query) or _digest_refusal(environ)
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


def _digest_refusal(environ: dict) -> Refusal | None:
    """The body against its hex `x-amz-content-sha256`, its `Content-MD5` and its checksums, in
    headers or in an aws-chunked trailer, when sent, and an aws-chunked body's chunk and trailer
    signatures (module docstring)."""
    md5 = environ.get("HTTP_CONTENT_MD5")
    sha256 = environ.get("HTTP_X_AMZ_CONTENT_SHA256", "UNSIGNED-PAYLOAD")
    streaming = sha256.startswith("STREAMING-")
    hashed = not (sha256 == "UNSIGNED-PAYLOAD" or streaming)
    headers = [(name, environ[key]) for name in CHECKSUMS if (key := f"HTTP_X_AMZ_CHECKSUM_{name.upper()}") in environ]
    declared = [name.strip().lower() for name in environ.get("HTTP_X_AMZ_TRAILER", "").split(",") if name.strip()]
    if hashed and not HEX_SHA256.fullmatch(sha256):
        return BAD_CONTENT_SHA256
    if refused := _declaration_refusal(environ, headers, declared, streaming):
        return refused
    if md5 is None and not hashed and not headers and not streaming:
        return None
    body = body_of(environ)
    if hashed and hashlib.sha256(body).hexdigest() != sha256:
        return SHA256_MISMATCH
    trailer: list[tuple[str, str]] = []
    if streaming:
        decoded = _aws_chunked(body)
        if decoded is None:
            return UNTERMINATED
        chunks, trailers = decoded
        signed = sha256.startswith(SIGNED_CHUNKS)
        if refused := (_trailer_refusal(trailers, declared, sha256 == f"{SIGNED_CHUNKS}-TRAILER")
                       or (signed and _chunk_signature_refusal(environ, chunks, trailers))):
            return refused
        body = b"".join(data for _, data in chunks)
        trailer = [(name[15:], value) for name, value in trailers.items()
                   if name.startswith("x-amz-checksum-") and name[15:] in CHECKSUMS]
        if environ.get("HTTP_X_AMZ_DECODED_CONTENT_LENGTH", str(len(body))) != str(len(body)):
            return WRONG_LENGTH
    if md5 is not None:
        try:
            digest = base64.b64decode(md5, validate=True)
        except ValueError:
            digest = b""
        if len(digest) != 16:
            return MD5_INVALID
        if not hmac.compare_digest(digest, hashlib.md5(body).digest()):
            return MD5_MISMATCH
    if environ.get("REQUEST_METHOD") == "POST" and "uploadId=" in environ.get("QUERY_STRING", ""):
        return None  # CompleteMultipartUpload: its checksum header is the whole object's, not its XML's
    for name, value in headers:
        if refused := _checksum_refusal(name, value, body, f"x-amz-checksum-{name} header"):
            return refused
    for name, value in trailer:
        if refused := _checksum_refusal(name, value, body, f"x-amz-checksum-{name} trailing header"):
            return refused
        environ[TRAILER_CHECKSUM] = (name.upper(), value)
    return None


def _declaration_refusal(environ: dict, headers: list[tuple[str, str]], declared: list[str],
                         streaming: bool) -> Refusal | None:
    """S3's answer, from the headers alone, to checksums named twice or not as
    `x-amz-sdk-checksum-algorithm` says (swift's test_input_errors.py and
    test_object_checksums.py, run against AWS): one checksum, in a header or announced in
    `x-amz-trailer`, of the algorithm the SDK header names if it names one."""
    if any(not name.startswith("x-amz-checksum-") or name[15:] not in CHECKSUMS for name in declared):
        return UNSUPPORTED_TRAILER
    if len(headers) > 1 or len(declared) > 1:
        return SINGLE_CHECKSUM
    if headers and declared:
        return HEADER_AND_TRAILER
    if algorithm := environ.get("HTTP_X_AMZ_SDK_CHECKSUM_ALGORITHM"):
        named = [name for name, _ in headers] + [name[15:] for name in declared]
        if not named:
            return UNDECLARED_CHECKSUM
        if algorithm.lower() != named[0]:
            return OTHER_ALGORITHM
    if declared and not streaming:
        return MALFORMED_TRAILER
    return None


def _trailer_refusal(trailers: dict[str, str], declared: list[str], signed: bool) -> Refusal | None:
    """S3's answer to trailing headers that are not the ones announced: exactly the checksum
    `x-amz-trailer` names, and `x-amz-trailer-signature` after signed chunks with a trailer
    (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`); an unannounced one or one missing is 400
    MalformedTrailerError, a missing signature 400 IncompleteBody (swift's
    `test_strm_unsgnd_pyld_trl_mismatch_trailer`, `..._declared_no_trailer_sent`,
    `test_strm_sgnd_pyld_trl_missing_trl_sig`). Trailers sent unannounced are read as before."""
    expected = set(declared) | ({"x-amz-trailer-signature"} if signed else set())
    if not expected:
        return None
    if any(name not in expected for name in trailers):
        return MALFORMED_TRAILER
    if signed and "x-amz-trailer-signature" not in trailers:
        return UNTERMINATED
    return MALFORMED_TRAILER if set(trailers) != expected else None


def _chunk_signature_refusal(environ: dict, chunks: list[tuple[bytes, bytes]], trailers: dict[str, str]) -> Refusal | None:
    """S3's answer to signed chunks (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`) whose
    signatures are not the chain that starts at the request's own (its `Authorization`
    signature, already checked): a chunk without `;chunk-signature=` or with an empty one is 400
    IncompleteBody, another signature 403 SignatureDoesNotMatch, and so is another
    `x-amz-trailer-signature` (swift's `test_strm_sgnd_pyld_*`, run against AWS)."""
    parsed = AUTHORIZATION.match(environ.get("HTTP_AUTHORIZATION", ""))
    if not parsed:
        return BAD_SIGNATURE  # the chain starts at the Authorization header's signature
    credential, _, previous = parsed.groups()
    key_id, date, region, service, _ = credential.split("/")
    key = _signing_key(CREDENTIALS[key_id], date, region, service)
    scope = f"{environ.get('HTTP_X_AMZ_DATE', '')}\n{date}/{region}/{service}/aws4_request"
    for params, data in chunks:
        name, _, signature = params.decode("latin-1").partition("=")
        if not params:
            return UNTERMINATED
        if name.strip() != "chunk-signature":
            return BAD_SIGNATURE
        if ";" in signature or not signature.strip():
            return UNTERMINATED
        previous = chunk_signature(key, scope, previous, data)
        if not hmac.compare_digest(previous.encode(), signature.strip().encode("latin-1")):
            return BAD_SIGNATURE
    if (sent := trailers.get("x-amz-trailer-signature")) is not None:
        expected = trailer_signature(key, scope, previous, trailers)
        if not hmac.compare_digest(expected.encode(), sent.encode("latin-1")):
            return BAD_SIGNATURE
    return None


def chunk_signature(key: bytes, scope: str, previous: str, data: bytes) -> str:
    """An aws-chunked chunk's SigV4 signature (AWS's "sigv4-streaming" page): HMAC-SHA256 with the
    request's signing key of `AWS4-HMAC-SHA256-PAYLOAD`, the request's `X-Amz-Date` and scope
    (`scope`, "{date}\\n{day}/{region}/{service}/aws4_request"), the previous chunk's signature (the
    request's for the first), the empty string's SHA-256 and the chunk's."""
    to_sign = f"AWS4-HMAC-SHA256-PAYLOAD\n{scope}\n{previous}\n{EMPTY_SHA256}\n{hashlib.sha256(data).hexdigest()}"
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def trailer_signature(key: bytes, scope: str, previous: str, trailers: dict[str, str]) -> str:
    """The trailing headers' signature (AWS's "sigv4-streaming-trailers" page): as a chunk's, of
    `AWS4-HMAC-SHA256-TRAILER`, the last chunk's signature and the SHA-256 of the trailers as
    `name:value\\n` lines in name order (a lone newline for none), the signature's own left out."""
    lines = "".join(f"{name}:{value}\n" for name, value in sorted(trailers.items()) if name != "x-amz-trailer-signature")
    digest = hashlib.sha256((lines or "\n").encode("latin-1")).hexdigest()
    return hmac.new(key, f"AWS4-HMAC-SHA256-TRAILER\n{scope}\n{previous}\n{digest}".encode(), hashlib.sha256).hexdigest()


def _checksum_refusal(name: str, value: str, body: bytes, header: str) -> Refusal | None:
    """S3's answer to a checksum of `body` that is not a base64 digest of its algorithm's size (with
    its unused bits zero), or not the body's."""
    size, checksum = CHECKSUMS[name]
    try:
        digest = base64.b64decode(value, validate=True)
    except ValueError:
        digest = b""
    if len(digest) != size or _b64(digest) != value:
        return Refusal("400 Bad Request", "InvalidRequest", f"Value for {header} is invalid.")
    if checksum(body) != value:
        return Refusal("400 Bad Request", "BadDigest",
                       f"The {name.upper()} you specified did not match the calculated checksum.")
    return None


def _aws_chunked(raw: bytes) -> tuple[list[tuple[bytes, bytes]], dict[str, str]] | None:
    """The chunks of an aws-chunked body (`{hex size}[;chunk-signature=...]\\r\\n{data}\\r\\n`, ...,
    up to a zero-size chunk), each as (its parameters after the size, its data), and its trailing
    headers up to the first empty line, by lower-case name, each name's last (S3 reads the last);
    None if the body ends before its zero-size chunk."""
    chunks, at = [], 0
    while True:
        end = raw.find(b"\r\n", at)
        size, _, params = raw[at:end].partition(b";") if end >= 0 else (b"", b"", b"")
        if not CHUNK_SIZE.fullmatch(size):
            return None
        size, at = int(size, 16), end + 2
        if size == 0:
            chunks.append((params, b""))
            break
        if raw[at + size:at + size + 2] != b"\r\n":
            return None
        chunks.append((params, raw[at:at + size]))
        at += size + 2
    trailers = {}
    for line in raw[at:].split(b"\r\n"):
        if not line:
            break
        name, _, value = line.decode("latin-1").partition(":")
        trailers[name.strip().lower()] = value.strip()
    return chunks, trailers


def body_of(environ: dict) -> bytes:
    """The request's body, read once and put back for moto to read."""
    if (read := environ.get(READ_BODY)) is not None and read[0] is environ["wsgi.input"]:
        return read[1]
    if environ.get("CONTENT_LENGTH"):
        body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
    elif environ.get("wsgi.input_terminated"):  # HTTP chunked: werkzeug ends the stream
        body = environ["wsgi.input"].read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ[READ_BODY] = (environ["wsgi.input"], body)
    return body
