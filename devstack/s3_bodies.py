"""The body checks of the emulator's S3 (`digest_refusal`, called by `devstack/s3_auth.py`'s
`refusal` once a request's authentication passed): what S3 refuses of a request's body and moto
lets through, answered with S3's status, Code and Message (`devstack/s3_errors.py`).

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
  SignatureDoesNotMatch, as in S3."""
from __future__ import annotations

import base64
import hashlib
import hmac
import io
import re
from collections.abc import Callable

from chalicelib.store import s3_put
from devstack import crc
from devstack.s3_errors import (
    BAD_CONTENT_SHA256,
    BAD_SIGNATURE,
    HEADER_AND_TRAILER,
    MALFORMED_TRAILER,
    MD5_INVALID,
    MD5_MISMATCH,
    OTHER_ALGORITHM,
    SHA256_MISMATCH,
    SINGLE_CHECKSUM,
    UNDECLARED_CHECKSUM,
    UNSUPPORTED_TRAILER,
    UNTERMINATED,
    WRONG_LENGTH,
    Refusal,
)

HEX_SHA256 = re.compile(r"[0-9a-f]{64}")
READ_BODY = "obelisk.s3_bodies.body"  # environ key: (the stream put back, the body read)
TRAILER_CHECKSUM = "obelisk.s3_bodies.trailer_checksum"  # environ key: (algorithm, value) of a checked trailer
CHUNK_SIZE = re.compile(rb"[0-9a-fA-F]+")
SIGNED_CHUNKS = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"  # and its -TRAILER variant: chunks signed in a chain
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
Signing = tuple[bytes, str, str]  # a SigV4 request's signing key, "{X-Amz-Date}\n{scope}", and its signature
Chain = Callable[[dict], "Signing | None"]  # the signing a request's chunk signatures chain from (`s3_auth`)


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


CHECKSUMS = {  # S3's checksum algorithms: (the digest's size in bytes, the header's value for a body)
    "crc32": (4, s3_put.crc32),
    "crc32c": (4, lambda body: _b64(crc.crc32c(body).to_bytes(4, "big"))),
    "crc64nvme": (8, lambda body: _b64(crc.crc64nvme(body).to_bytes(8, "big"))),
    "sha1": (20, lambda body: _b64(hashlib.sha1(body).digest())),
    "sha256": (32, lambda body: _b64(hashlib.sha256(body).digest())),
}


def digest_refusal(environ: dict, chain: Chain) -> Refusal | None:
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
                       or (signed and _chunk_signature_refusal(chain(environ), chunks, trailers))):
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


def _chunk_signature_refusal(signing: Signing | None, chunks: list[tuple[bytes, bytes]],
                             trailers: dict[str, str]) -> Refusal | None:
    """S3's answer to signed chunks (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`) whose
    signatures are not the chain that starts at the request's own (its `Authorization`
    signature, already checked: `signing`, None when there is none): a chunk without
    `;chunk-signature=` or with an empty one is 400 IncompleteBody, another signature 403
    SignatureDoesNotMatch, and so is another `x-amz-trailer-signature` (swift's
    `test_strm_sgnd_pyld_*`, run against AWS)."""
    if signing is None:
        return BAD_SIGNATURE  # the chain starts at the Authorization header's signature
    key, scope, previous = signing
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
