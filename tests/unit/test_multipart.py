"""multipart/related parsing and building."""
import pytest

from chalicelib.dicom import multipart
from chalicelib.errors import BadRequest

TYPE = 'multipart/related; type="application/dicom"; boundary=b0und'


def test_build_then_parse_round_trips_binary_parts():
    parts = [("application/dicom", b"\x00\r\n--b0un\xff" * 10), ("application/dicom", b"")]
    body = multipart.build(parts, "b0und")
    parsed = multipart.parse(body, TYPE)
    assert [(p.content_type, p.body) for p in parsed] == parts


def test_preamble_and_headerless_parts_are_accepted():
    body = b"preamble\r\n--b0und\r\n\r\nabc\r\n--b0und--\r\nepilogue"
    assert [p.body for p in multipart.parse(body, TYPE)] == [b"abc"]


@pytest.mark.parametrize("body, reason", [
    (b"", "empty"),
    (b"--other\r\n\r\nabc\r\n--other--", "boundary"),
    (b"--b0und\r\nContent-Type: application/dicom\r\n\r\nabc", "closing boundary"),
    (b"--b0und\r\nContent-Type application/dicom\r\n\r\nabc\r\n--b0und--", "header"),
    (b"--b0und--\r\n", "no parts"),
])
def test_malformed_bodies_are_refused_with_a_reason(body, reason):
    with pytest.raises(BadRequest) as refused:
        multipart.parse(body, TYPE)
    assert reason in refused.value.detail


def test_content_type_without_boundary_is_refused():
    with pytest.raises(BadRequest):
        multipart.parse(b"--x\r\n\r\na\r\n--x--", "multipart/related")


def test_media_type_reads_parameters():
    kind, params = multipart.media_type('multipart/related; type="application/dicom"; boundary=XYZ')
    assert kind == "multipart/related"
    assert params == {"type": "application/dicom", "boundary": "XYZ"}
