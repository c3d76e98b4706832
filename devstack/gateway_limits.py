"""What API Gateway (REST API, Lambda proxy integration) and Lambda do to a request and its answer
around the function, so that the local API refuses what AWS refuses, with the answer a client sees
from AWS. The evidence for each answer is in docs/deploy.md ("Limits a client meets").

- A request body whose media type (parameters ignored) is one of the API's binary media types
  reaches the function base64-encoded, with `isBase64Encoded: true` (Chalice decodes it there);
  any other body as it came.
- A request body over 10 MiB: API Gateway answers 413 `HTTP content length exceeded 10485760
  bytes.` (plain text) before anything runs.
- A Lambda event over 6 MiB: the body is base64-encoded in the event when its media type is one of
  the API's binary types (4/3 of its size), plus headers and the request context. API Gateway
  answers 413 from its REQUEST_TOO_LARGE gateway response (`{"message": "Request Too Long"}` by
  default; infra/ configures a detail naming the large-upload path, served here too).
- A function answer over 6 MiB (as JSON, base64 bodies included), or one the runtime cannot
  marshal as JSON (a bytes body of a type that is not binary): 502 `Internal server error`.
- A function still running after 29 s: 504 `Endpoint request timed out`.
- A chunked request body (`Transfer-Encoding: chunked`, no Content-Length): API Gateway reads it
  whole and hands the function the decoded body (the header stays in the event), so it is subject
  to the same limits once decoded.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import pybase64

GATEWAY_BODY_LIMIT = 10 * 1024 * 1024  # API Gateway REST payload quota (10 MB)
LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024  # synchronous invocation, request and response (6 MB)
INTEGRATION_TIMEOUT_SECONDS = 29.0
# What AWS puts in an event that the local gateway's event leaves out (requestContext with identity,
# domain, ids, times; multiValueHeaders repeating every header); measured from a sample REST event.
EVENT_ENVELOPE_BYTES = 2048
LARGE_UPLOAD_DETAIL = ("bodies over about 4.5 MB (6 MB once base64-encoded for the function) go through the "
                       "large-upload path: POST /api/uploads with the size, PUT the parts to the returned URLs, "
                       "then POST /api/uploads/{id}/complete; the `obelisk upload` command does it "
                       "(docs/upload.md)")


@dataclass
class GatewayAnswer:
    """An answer API Gateway gives without (or instead of) the function's."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def _json_answer(status: int, error_type: str, document: dict[str, str]) -> GatewayAnswer:
    return GatewayAnswer(status, json.dumps(document).encode(),
                         {"Content-Type": "application/json", "x-amzn-ErrorType": error_type})


def body_too_large(length: int) -> GatewayAnswer | None:
    """API Gateway's own refusal of a body over 10 MiB (the text AWS sends, not JSON)."""
    if length <= GATEWAY_BODY_LIMIT:
        return None
    return GatewayAnswer(413, f"HTTP content length exceeded {GATEWAY_BODY_LIMIT} bytes.".encode(),
                         {"Content-Type": "text; charset=utf-8"})


def request_too_long() -> GatewayAnswer:
    """The REQUEST_TOO_LARGE gateway response (infra/ adds the detail to AWS's default message)."""
    return _json_answer(413, "BadRequestException", {"message": "Request Too Long", "detail": LARGE_UPLOAD_DETAIL})


def internal_server_error() -> GatewayAnswer:
    return _json_answer(502, "InternalServerErrorException", {"message": "Internal server error"})


def timed_out() -> GatewayAnswer:
    return _json_answer(504, "InternalServerErrorException", {"message": "Endpoint request timed out"})


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def is_binary(content_type: str, binary_types: list[str]) -> bool:
    """API Gateway matches the media type (parameters ignored) against binaryMediaTypes."""
    kind = media_type(content_type)
    return any(kind == b or b == "*/*" or (b.endswith("/*") and kind.startswith(b[:-1])) for b in binary_types)


def event_body(content_type: str, body: bytes | None, binary_types: list[str]) -> tuple[str | bytes | None, bool]:
    """The event's `body` and `isBase64Encoded` for this request body, as API Gateway builds them."""
    if body and is_binary(content_type, binary_types):
        return pybase64.b64encode_as_string(body), True
    return body, False


def base64_length(size: int) -> int:
    """The length of `size` bytes base64-encoded (padded), without encoding them: this server's
    CPU is counted as the function's, and API Gateway's encoding is not the function's work."""
    return 4 * ((size + 2) // 3)


def event_size(headers: dict[str, str], body: bytes, binary_types: list[str]) -> int:
    """Bytes of the Lambda event API Gateway would send for this request."""
    if body and is_binary(headers.get("content-type", ""), binary_types):
        encoded = base64_length(len(body))
    else:
        encoded = len(json.dumps(body.decode("utf-8", "replace")))
    return encoded + 2 * len(json.dumps(headers)) + EVENT_ENVELOPE_BYTES


def request_too_large_for_lambda(headers: dict[str, str], body: bytes, binary_types: list[str]) -> GatewayAnswer | None:
    return request_too_long() if event_size(headers, body, binary_types) > LAMBDA_PAYLOAD_LIMIT else None


def response_refused(response: dict[str, Any]) -> GatewayAnswer | None:
    """What Lambda cannot return, and API Gateway then answers 502 for: a body left as bytes (the
    runtime marshals the answer as JSON: Runtime.MarshalError) or a payload over 6 MiB."""
    body = response.get("body")
    if isinstance(body, bytes) and not response.get("isBase64Encoded"):
        return internal_server_error()
    size = len(json.dumps({k: v for k, v in response.items() if k != "body"}, default=str))
    if isinstance(body, bytes):
        size += base64_length(len(body))
    elif body is not None:
        size += len(json.dumps(body))
    return internal_server_error() if size > LAMBDA_PAYLOAD_LIMIT else None


class BodyTooLarge(Exception):
    """A chunked body went past the gateway limit; the rest was read and dropped."""

    def __init__(self, length: int):
        super().__init__(length)
        self.length = length


def read_chunked(stream: BinaryIO, limit: int = GATEWAY_BODY_LIMIT) -> bytes:
    """The decoded body of a `Transfer-Encoding: chunked` request (RFC 9112 7.1). Past `limit` the
    chunks are still read (so the client can read the answer) but dropped: raises BodyTooLarge."""
    parts: list[bytes] = []
    length = 0
    while True:
        size_line = stream.readline(65537)
        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while stream.readline(65537) not in (b"\r\n", b"\n", b""):
                pass  # trailer fields
            break
        chunk = stream.read(size)
        stream.readline(3)  # the CRLF after the chunk
        length += len(chunk)
        if length <= limit:
            parts.append(chunk)
        else:
            parts.clear()
    if length > limit:
        raise BodyTooLarge(length)
    return b"".join(parts)


def drain(stream: BinaryIO, length: int) -> None:
    """Reads and drops `length` bytes (a refused body), so the client gets to read the answer."""
    while length > 0:
        chunk = stream.read(min(length, 1024 * 1024))
        if not chunk:
            return
        length -= len(chunk)
