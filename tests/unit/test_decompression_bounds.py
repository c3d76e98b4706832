"""Decompression bombs are refused before they are inflated or decoded (docs/dicomweb.md, Limits):
the bound is a sixteenth of the function's memory, 64 MiB at the default 1024 MB."""
from __future__ import annotations

import tracemalloc

import pytest

from chalicelib.errors import PayloadTooLarge
from chalicelib.services.ingest import read_part10
from tests.support import bombs

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_a_deflated_bomb_is_refused_without_being_inflated():
    bomb = bombs.deflated(128 << 20)  # ~130 KiB standing for 128 MiB of pixel data
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge) as refused:
            read_part10(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "inflates beyond" in refused.value.detail
    assert peak < 16 << 20, peak  # pydicom alone held the 128 MiB inflated


def test_an_rle_frame_decoding_beyond_the_bound_is_refused_before_decoding():
    with pytest.raises(PayloadTooLarge) as refused:
        read_part10(bombs.rle(8192))  # 2 MiB standing for a 128 MiB frame
    assert "8192 x 8192" in refused.value.detail


def test_objects_within_the_bound_are_read():
    assert int(read_part10(bombs.deflated(8 << 20)).NumberOfFrames) == 4
    assert int(read_part10(bombs.rle(1024)).Rows) == 1024
