"""`multipart.iter_parts` (the large-upload ingest's streaming reader) yields what `multipart.parse`
returns, whatever the chunk size, refuses what it refuses, and holds one part in memory."""
from __future__ import annotations

import tracemalloc

import pytest

from chalicelib.dicom import multipart
from chalicelib.errors import BadRequest

TYPE = 'multipart/related; type="application/dicom"; boundary=b0undary'
GOOD = [
    b"--b0undary\r\nContent-Type: application/dicom\r\n\r\nONE\r\n--b0undary\r\n\r\nTWO\r\n\r\n--b0undary--\r\n",
    b"preamble\r\n--b0undary  \r\nContent-Type: application/dicom\r\nX-A: b\r\n\r\n\r\n--b0undar\r\n--b0undary--",
    b"--b0undary\r\nContent-Type: application/dicom\r\n\r\n" + bytes(range(256)) * 300 + b"\r\n--b0undary--\r\n",
]
BAD = [
    b"",
    b"no boundary at all",
    b"--b0undary\r\nContent-Type: application/dicom\r\n\r\nONE",
    b"--b0undary garbage\r\n\r\nONE\r\n--b0undary--",
    b"--b0undary\r\nContent-Type: application/dicom\r\nONE\r\n--b0undary--",
    b"--b0undary--\r\n",
    b"--b0undary",
    b"--b0undary\r\n\r\n--b0undary--",
]


def chunked(body: bytes, size: int):
    return (body[i:i + size] for i in range(0, len(body), size))


@pytest.mark.parametrize("size", [1, 2, 7, 13, 4096])
@pytest.mark.parametrize("body", GOOD)
def test_streamed_parts_equal_the_parsed_ones(body, size):
    assert list(multipart.iter_parts(chunked(body, size), TYPE)) == multipart.parse(body, TYPE)


@pytest.mark.parametrize("size", [1, 5, 4096])
@pytest.mark.parametrize("body", BAD)
def test_streamed_refusals_equal_the_parsed_ones(body, size):
    with pytest.raises(BadRequest) as parsed:
        multipart.parse(body, TYPE)
    with pytest.raises(BadRequest) as streamed:
        list(multipart.iter_parts(chunked(body, size), TYPE))
    assert streamed.value.detail == parsed.value.detail


def test_a_100_mb_body_is_read_with_one_part_in_memory():
    part = b"\x5a" * (5 * 1024 * 1024)

    def body():
        for _ in range(20):
            yield b"--b0undary\r\nContent-Type: application/dicom\r\n\r\n"
            yield from chunked(part, 256 * 1024)
            yield b"\r\n"
        yield b"--b0undary--\r\n"

    tracemalloc.start()
    count = sum(len(p.body) == len(part) for p in multipart.iter_parts(body(), TYPE))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == 20
    assert peak < 4 * len(part)  # the buffer and the part's copy, never the 100 MB body
