"""What one stored object may cost to inflate or decode, checked before anything is inflated or
decoded (docs/dicomweb.md, "Limits"). A small deflated or RLE object can stand for gigabytes:
the bound is a sixteenth of the function's memory (64 MiB at 1024 MB), for the inflated dataset of
a Deflated Explicit VR Little Endian object and for one decoded frame of any object."""
from __future__ import annotations

import struct
import zlib

from chalicelib.config import settings
from chalicelib.errors import PayloadTooLarge

DEFLATED = "1.2.840.10008.1.2.1.99"
CHUNK = 1 << 20
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}


def decoded_bound() -> int:
    """Bytes an object may inflate to, or one frame decode to."""
    return settings().function_memory_mb * (1 << 20) // 16


def _dataset_start(data: bytes) -> tuple[int, str]:
    """Where the dataset begins after the File Meta group, and the Transfer Syntax UID it names
    (explicit VR little endian, PS3.10 7.1); (0, "") when there is no Part-10 preamble."""
    if data[128:132] != b"DICM":
        return 0, ""
    offset, syntax = 132, ""
    while offset + 12 <= len(data):  # a truncated meta group is the parser's to refuse
        group, element = struct.unpack_from("<HH", data, offset)
        if group != 0x0002:
            break
        vr = data[offset + 4:offset + 6]
        if vr in _LONG_VRS:
            (length,), header = struct.unpack_from("<I", data, offset + 8), 12
        else:
            (length,), header = struct.unpack_from("<H", data, offset + 6), 8
        if element == 0x0010:
            syntax = data[offset + header:offset + header + length].rstrip(b"\x00 ").decode("ascii", "replace")
        offset += header + length
    return offset, syntax


def check_inflated_size(data: bytes) -> None:
    """A deflated object is inflated here 1 MiB at a time, counting and discarding, and refused
    once it passes the bound: its inflated bytes are never held."""
    start, syntax = _dataset_start(data)
    if syntax != DEFLATED:
        return
    bound, total = decoded_bound(), 0
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    pending = memoryview(data)[start:]
    try:
        while pending and not inflater.eof:
            total += len(inflater.decompress(pending, CHUNK))
            pending = memoryview(inflater.unconsumed_tail) if inflater.unconsumed_tail else pending[len(pending):]
            if total > bound:
                raise PayloadTooLarge(f"the deflated dataset inflates beyond {bound} bytes "
                                      f"(a sixteenth of the function's memory)")
    except zlib.error:
        return  # not valid deflate: the parser refuses it as unreadable


def check_pixel_geometry(dataset) -> None:
    """One frame's decoded size (Rows x Columns x SamplesPerPixel x BitsAllocated) within the
    bound, before any frame is decoded."""
    if "PixelData" not in dataset:
        return
    try:
        rows, columns = int(dataset.Rows), int(dataset.Columns)
        samples = int(dataset.get("SamplesPerPixel", 1) or 1)
        bits = int(dataset.BitsAllocated)
    except (AttributeError, TypeError, ValueError):
        return  # the frames check refuses a pixel module it cannot cut
    size, bound = rows * columns * samples * ((bits + 7) // 8), decoded_bound()
    if size > bound:
        raise PayloadTooLarge(f"a frame of {rows} x {columns} x {samples} samples of {bits} bits decodes to "
                              f"{size} bytes, beyond {bound} (a sixteenth of the function's memory)")
