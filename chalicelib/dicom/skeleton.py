"""A Part-10 file split into its frames and a skeleton: the file's bytes with every frame's bytes
cut out, and the spans saying where they were. The frames are stored once, as the frame objects
WADO-RS serves; the Part-10 file is joined again, byte for byte, from the skeleton and the frames
(docs/storage.md).

A span is `(file offset, length, frame number, offset in the frame)`. Native frames are one span
each (a slice of Pixel Data); an encapsulated frame is one span per fragment. A file whose frames
cannot be found again in it exactly (deflated transfer syntax, odd bit packings) keeps its whole
bytes in the skeleton and no span: correct, only not deduplicated. `split` checks the join
before it answers."""
from __future__ import annotations

import io
import json
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

MAGIC = b"OBSK1\n"  # then the spans as one JSON line, then the skeleton bytes deflated
ITEM = (0xFFFE, 0xE000)
Span = tuple[int, int, int, int]
FrameReader = Callable[[int, int, int], bytes]  # (frame number, offset in frame, length) -> bytes


def split(data: bytes, dataset: Dataset, frames: list[bytes]) -> tuple[list[Span], bytes]:
    """(spans, skeleton bytes) of a Part-10 file whose frames are `frames`."""
    spans = _spans(data, dataset, frames) if frames else []
    if spans:
        skeleton = _cut(data, spans)
        if _rejoins(data, join(spans, skeleton, lambda n, at, size: frames[n - 1][at:at + size])):
            return spans, skeleton
    return [], data


def _rejoins(data: bytes, pieces: Iterable[bytes]) -> bool:
    """Whether the pieces, in order, are `data` byte for byte: each compared where it falls, no
    joined copy made (a whole frame is its own piece: `frame[0:len(frame)]` is not copied)."""
    position = 0
    for piece in pieces:
        if not data.startswith(piece, position):
            return False
        position += len(piece)
    return position == len(data)


def encode(spans: list[Span], skeleton: bytes) -> bytes:
    """The stored object: a magic line, the spans as one JSON line, the skeleton bytes deflated
    (a header of text and UIDs shrinks to about a third)."""
    return MAGIC + json.dumps(spans, separators=(",", ":")).encode() + b"\n" + zlib.compress(skeleton, 6)


def decode(body: bytes) -> tuple[list[Span], bytes]:
    if not body.startswith(MAGIC):
        raise ValueError("not a Part-10 skeleton")
    end = body.index(b"\n", len(MAGIC))
    spans = [tuple(s) for s in json.loads(body[len(MAGIC):end])]
    return spans, zlib.decompress(body[end + 1:])


def join(spans: Iterable[Span], skeleton: bytes, frame_bytes: FrameReader) -> Iterator[bytes]:
    """The Part-10 file's bytes, in order: skeleton stretches and the frame bytes between them."""
    position = kept = 0
    for offset, length, number, at in sorted(spans):
        gap = offset - position
        yield skeleton[kept:kept + gap]
        kept += gap
        yield frame_bytes(number, at, length)
        position = offset + length
    yield skeleton[kept:]


def stand_in(spans: list[Span], skeleton: bytes) -> bytes:
    """The Part-10 file with zero bytes in place of its frames' (same lengths, same offsets): every
    element but the frame values as received, without reading a frame. Its header converts to the
    file's own DICOM JSON wherever the document names the pixel data by a BulkDataURI."""
    return b"".join(join(spans, skeleton, lambda number, at, length: bytes(length)))


def _cut(data: bytes, spans: list[Span]) -> bytes:
    out, position = bytearray(), 0
    for offset, length, _, _ in sorted(spans):
        out += data[position:offset]
        position = offset + length
    out += data[position:]
    return bytes(out)


PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)  # Pixel Data, Float and Double Float Pixel Data
PIXEL_KEYS = tuple(f"{tag:08X}" for tag in PIXEL_TAGS)  # their DICOM JSON keys: where frame bytes are


def _pixel_value_offset(data: bytes) -> tuple[int, int] | None:
    """(file offset, declared length) of the top-level pixel data value, read without loading it."""
    import pydicom

    try:
        dataset = pydicom.dcmread(io.BytesIO(data), defer_size=256)
        tag = next(t for t in PIXEL_TAGS if t in dataset)
        raw = dataset.get_item(tag, keep_deferred=True)
    except Exception:  # noqa: BLE001 - no layout found: the file is kept whole
        return None
    tell = getattr(raw, "value_tell", None)
    return (tell, raw.length) if tell is not None else None


def _parsed_value_offset(data: bytes, dataset: Dataset) -> tuple[int, int] | None:
    """(file offset, length) of the pixel data value as the dataset read it from `data` (pydicom
    keeps where each value was read, `file_tell`), when the value is found there byte for byte: a
    dataset changed or encoded again since (coercion) is read again instead (`_pixel_value_offset`)."""
    element = next((dataset[t] for t in PIXEL_TAGS if t in dataset), None)
    tell, value = getattr(element, "file_tell", None), getattr(element, "value", None)
    if tell is None or not isinstance(value, bytes) or not data.startswith(value, tell):
        return None
    return tell, (0xFFFFFFFF if element.is_undefined_length else len(value))


def _spans(data: bytes, dataset: Dataset, frames: list[bytes]) -> list[Span]:
    found = _parsed_value_offset(data, dataset) or _pixel_value_offset(data)
    if found is None:
        return []
    start, length = found
    if dataset.file_meta.TransferSyntaxUID.is_encapsulated:
        return _fragment_spans(data, start, frames)
    spans, offset = [], start
    for number, frame in enumerate(frames, start=1):
        spans.append((offset, len(frame), number, 0))
        offset += len(frame)
    return spans if offset <= start + length else []


def _fragments(data: bytes, start: int) -> list[tuple[int, int]]:
    """(offset, length) of each fragment item after the Basic Offset Table, little endian."""
    found, position, first = [], start, True
    while position + 8 <= len(data):
        group, element, length = struct.unpack_from("<HHL", data, position)
        if (group, element) != ITEM:
            break  # the sequence delimiter
        if not first:
            found.append((position + 8, length))
        first = False
        position += 8 + length
    return found


def _fragment_spans(data: bytes, start: int, frames: list[bytes]) -> list[Span]:
    fragments = iter(_fragments(data, start))
    spans: list[Span] = []
    for number, frame in enumerate(frames, start=1):
        filled = 0
        while filled < len(frame):
            offset, length = next(fragments, (None, 0))
            if offset is None or filled + length > len(frame):
                return []
            spans.append((offset, length, number, filled))
            filled += length
    return spans
