"""Frames of pixel data as stored: native frames sliced from Pixel Data (or Float / Double Float
Pixel Data), encapsulated frames as their compressed bytes (no transcoding). Only the frames the
data holds are cut: a NumberOfFrames larger than the data names frames that do not exist."""
from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
DEFLATED = "1.2.840.10008.1.2.1.99"
EXPLICIT_LITTLE = "1.2.840.10008.1.2.1"


def number_of_frames(dataset: Dataset) -> int:
    try:
        return max(1, int(dataset.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return 1


def frame_transfer_syntax(transfer_syntax: str | None) -> str | None:
    """The transfer syntax of a frame cut from a file in `transfer_syntax`: deflate applies to the
    dataset, so a deflated file's frames are explicit VR little endian (PS3.18 8.7.3.5)."""
    return EXPLICIT_LITTLE if transfer_syntax == DEFLATED else transfer_syntax


def pixel_keyword(dataset: Dataset) -> str | None:
    """The keyword of the dataset's top-level pixel data element, if any."""
    return next((k for k in PIXEL_KEYWORDS if k in dataset), None)


def frames(dataset: Dataset) -> Iterator[bytes]:
    """Each frame's bytes in the stored transfer syntax; nothing when there is no pixel data (or
    an empty one)."""
    keyword = pixel_keyword(dataset)
    data = dataset.get(keyword) if keyword else None
    if not data:
        return
    count = number_of_frames(dataset)
    if keyword == "PixelData" and dataset.file_meta.TransferSyntaxUID.is_encapsulated:
        from pydicom.encaps import generate_frames

        yield from generate_frames(data, number_of_frames=count)
        return
    bits = int(dataset.BitsAllocated) if keyword == "PixelData" else (32 if keyword == "FloatPixelData" else 64)
    samples = int(dataset.get("SamplesPerPixel", 1) or 1)
    pixels = int(dataset.Rows) * int(dataset.Columns) * samples
    if bits == 1 and pixels % 8:
        yield from _bit_frames(bytes(data), pixels, count)
        return
    size = pixels * bits // 8
    for index in range(count):
        if index * size >= len(data):
            return  # NumberOfFrames names more frames than the data holds
        yield bytes(data[index * size:(index + 1) * size])


def _bit_frames(data: bytes, pixels: int, count: int) -> Iterator[bytes]:
    """Frames of 1-bit pixels not ending on a byte: each frame's bits (least significant bit
    first, PS3.5 8.1.1) packed again from the frame's first pixel, padded to a whole byte."""
    bits = int.from_bytes(data, "little")
    mask = (1 << pixels) - 1
    for index in range(count):
        if index * pixels >= len(data) * 8:
            return
        yield ((bits >> (index * pixels)) & mask).to_bytes((pixels + 7) // 8, "little")
