"""multipart/related bodies (RFC 2387) as DICOMweb uses them: parsing STOW requests, building
WADO responses."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.message import Message

from chalicelib.errors import BadRequest

MAX_PARTS = 10_000
CRLF = b"\r\n"


@dataclass(frozen=True)
class Part:
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return media_type(self.headers.get("content-type", ""))[0]


def media_type(value: str) -> tuple[str, dict[str, str]]:
    """(`type/subtype` lower-cased, parameters) of a Content-Type or Accept item."""
    message = Message()
    message["content-type"] = value
    params = message.get_params() or []
    main = message.get_content_type() if value.strip() else ""
    return main, {k.lower(): v for k, v in params[1:]}


def _parse_headers(raw: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in raw.split(CRLF):
        if not line:
            continue
        name, separator, value = line.partition(b":")
        if not separator:
            raise BadRequest("malformed part header line")
        headers[name.decode("latin-1").strip().lower()] = value.decode("latin-1").strip()
    return headers


def _delimiter(content_type: str) -> bytes:
    """The part delimiter a multipart Content-Type names; `BadRequest` when it names none."""
    kind, params = media_type(content_type)
    if not kind.startswith("multipart/"):
        raise BadRequest(f"expected a multipart body, got {kind or 'no Content-Type'}")
    boundary = params.get("boundary")
    if not boundary:
        raise BadRequest("multipart Content-Type has no boundary parameter")
    return b"--" + boundary.encode("latin-1")


def parse(body: bytes, content_type: str) -> list[Part]:
    """Splits a multipart body; raises `BadRequest` naming what is wrong with it."""
    delimiter = _delimiter(content_type)
    if not body:
        raise BadRequest("empty request body")
    if body.startswith(delimiter):
        position = 0
    else:
        position = body.find(CRLF + delimiter)
        if position < 0:
            raise BadRequest("the boundary given in Content-Type does not occur in the body")
        position += 2
    parts: list[Part] = []
    while True:
        position += len(delimiter)
        if body[position:position + 2] == b"--":
            break  # closing delimiter
        line_end = body.find(CRLF, position)
        if line_end < 0:
            raise BadRequest("truncated multipart body")
        if body[position:line_end].strip(b" \t"):
            raise BadRequest("garbage after a boundary delimiter")
        next_delimiter = body.find(CRLF + delimiter, line_end)
        if next_delimiter < 0:
            raise BadRequest("multipart body has no closing boundary")
        start = line_end + 2  # the part's headers, then its content, up to the next delimiter
        if body.startswith(CRLF, start, next_delimiter):
            headers_raw, content_start = b"", start + 2
        else:
            header_end = body.find(CRLF + CRLF, start, next_delimiter)
            if header_end < 0:
                raise BadRequest("a part has no header/body separator")
            headers_raw, content_start = body[start:header_end], header_end + 4
        parts.append(Part(_parse_headers(headers_raw), body[content_start:next_delimiter]))  # one copy
        if len(parts) > MAX_PARTS:
            raise BadRequest(f"more than {MAX_PARTS} parts")
        position = next_delimiter + 2
    if not parts:
        raise BadRequest("multipart body has no parts")
    return parts


def part_head(content_type: str, boundary: str, headers: dict[str, str] | None = None) -> bytes:
    """The delimiter and header block that open one part."""
    lines = [f"Content-Type: {content_type}", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return b"--" + boundary.encode() + CRLF + "\r\n".join(lines).encode() + CRLF + CRLF


def closing(boundary: str) -> bytes:
    return b"--" + boundary.encode() + b"--" + CRLF


def build(parts: list[tuple[str, bytes]], boundary: str, extra_headers: list[dict[str, str]] | None = None) -> bytes:
    """A multipart/related body from (content type, bytes) pairs."""
    chunks: list[bytes] = []
    for index, (content_type, content) in enumerate(parts):
        headers = (extra_headers or [{}] * len(parts))[index] or {}
        chunks += [part_head(content_type, boundary, headers), content, CRLF]
    chunks.append(closing(boundary))
    return b"".join(chunks)


def iter_parts(chunks: Iterable[bytes], content_type: str) -> Iterator[Part]:
    """`parse` over a stream: yields each part as soon as the next delimiter is read, holding one
    part (and one chunk) in memory; raises the same `BadRequest`s, when the stream reaches them."""
    delimiter = _delimiter(content_type)
    stream = _Buffered(chunks)
    stream.fill(len(delimiter))
    if not stream.buffer:
        raise BadRequest("empty request body")
    if stream.buffer.startswith(delimiter):
        position = 0
    else:
        position = stream.find(CRLF + delimiter, 0)
        if position < 0:
            raise BadRequest("the boundary given in Content-Type does not occur in the body")
        position += 2
    count = 0
    while True:
        position += len(delimiter)
        stream.fill(position + 2)
        if stream.buffer[position:position + 2] == b"--":
            break  # closing delimiter
        line_end = stream.find(CRLF, position)
        if line_end < 0:
            raise BadRequest("truncated multipart body")
        if stream.buffer[position:line_end].strip(b" \t"):
            raise BadRequest("garbage after a boundary delimiter")
        next_delimiter = stream.find(CRLF + delimiter, line_end)
        if next_delimiter < 0:
            raise BadRequest("multipart body has no closing boundary")
        yield _part_of(stream.buffer, line_end + 2, next_delimiter)
        count += 1
        if count > MAX_PARTS:
            raise BadRequest(f"more than {MAX_PARTS} parts")
        del stream.buffer[:next_delimiter + 2]
        position = 0
    if not count:
        raise BadRequest("multipart body has no parts")


def _part_of(buffer: bytearray, start: int, end: int) -> Part:
    """The part in buffer[start:end], its body copied once."""
    if end - start >= 2 and buffer[start:start + 2] == CRLF:
        headers, body_start = {}, start + 2
    else:
        header_end = buffer.find(CRLF + CRLF, start, end)
        if header_end < 0:
            raise BadRequest("a part has no header/body separator")
        headers, body_start = _parse_headers(bytes(buffer[start:header_end])), header_end + 4
    with memoryview(buffer) as view:
        return Part(headers, bytes(view[body_start:end]))


class _Buffered:
    """The unread rest of a chunk stream, read further only when a search needs it."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks = iter(chunks)
        self.buffer = bytearray()

    def _more(self) -> bool:
        chunk = next(self._chunks, None)
        if chunk is None:
            return False
        self.buffer += chunk
        return True

    def fill(self, size: int) -> None:
        while len(self.buffer) < size and self._more():
            pass

    def find(self, needle: bytes, start: int) -> int:
        """Index of `needle` at or after `start`, reading on as needed; -1 at the end of the stream."""
        while True:
            index = self.buffer.find(needle, start)
            if index >= 0:
                return index
            start = max(start, len(self.buffer) - len(needle) + 1)
            if not self._more():
                return -1
