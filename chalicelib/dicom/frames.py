"""Frames of pixel data as stored: native frames sliced from Pixel Data, encapsulated frames as
their compressed bytes (no transcoding)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydicom.dataset import Dataset


def number_of_frames(dataset: Dataset) -> int:
    try:
        return max(1, int(dataset.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return 1


def frames(dataset: Dataset) -> Iterator[bytes]:
    """Each frame's bytes in the stored transfer syntax; nothing when there is no Pixel Data."""
    if "PixelData" not in dataset:
        return
    count = number_of_frames(dataset)
    data = dataset.PixelData
    if dataset.file_meta.TransferSyntaxUID.is_encapsulated:
        from pydicom.encaps import generate_frames

        yield from generate_frames(data, number_of_frames=count)
        return
    bits = int(dataset.BitsAllocated)
    samples = int(dataset.get("SamplesPerPixel", 1) or 1)
    pixels = int(dataset.Rows) * int(dataset.Columns) * samples
    if bits == 1:
        total_bits = pixels * count
        if count == 1 or (pixels % 8):
            yield bytes(data[: (total_bits + 7) // 8]) if count == 1 else bytes(data)
            return
        size = pixels // 8
    else:
        size = pixels * bits // 8
    for index in range(count):
        yield bytes(data[index * size:(index + 1) * size])
