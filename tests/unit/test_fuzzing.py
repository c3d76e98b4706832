"""Property tests of the parsers that face the network: they either answer a clear BadRequest or
a correct result, never anything else."""
from __future__ import annotations

import base64

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.auth.authenticate import MissingCredentials, presented_token
from chalicelib.dicom import matching, multipart
from chalicelib.errors import BadQueryParameter, BadRequest, PayloadTooLarge, Unauthenticated

TYPE = 'multipart/related; type="application/dicom"; boundary=b0und'


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=2000))
def test_multipart_parser_answers_bad_request_or_parts(body):
    try:
        parts = multipart.parse(body, TYPE)
    except BadRequest as refused:
        assert refused.detail
        return
    assert parts and all(isinstance(p.body, bytes) for p in parts)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=20))
def test_multipart_round_trips_any_parts(bodies):
    boundary = "x7GHc0ntent-b0undary-that-is-long-enough"
    body = multipart.build([("application/dicom", b) for b in bodies], boundary)
    parsed = multipart.parse(body, f"multipart/related; boundary={boundary}")
    if any(f"\r\n--{boundary}".encode() in b for b in bodies):
        return  # a part containing the delimiter is ambiguous by construction
    assert [p.body for p in parsed] == bodies


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=20), st.lists(st.text(max_size=30), max_size=3), max_size=5))
def test_qido_parameters_answer_bad_query_or_criteria(params):
    try:
        criteria = matching.parse_criteria(params)
    except BadQueryParameter:
        return
    study = {"00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^John"}]}}
    for criterion in criteria:
        assert matching.matches(study, criterion) in (True, False)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), st.one_of(st.none(), st.text(max_size=100)))
def test_authorization_headers_answer_401_or_a_token(header, link):
    try:
        token = presented_token({"Authorization": header}, link)
    except (MissingCredentials, Unauthenticated):
        return
    assert token and len(token) <= 8192


@given(st.binary(max_size=100))
def test_basic_credentials_with_any_bytes(raw):
    header = "Basic " + base64.b64encode(raw).decode()
    try:
        token = presented_token({"Authorization": header}, None)
    except (MissingCredentials, Unauthenticated):
        return
    assert raw.decode("utf-8").split(":", 1)[1] == token


def _part10(name: str) -> bytes:
    from io import BytesIO

    import pydicom
    from pydicom.data import get_testdata_file

    buffer = BytesIO()
    pydicom.dcmread(get_testdata_file(name)).save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


PART10 = [_part10(name) for name in ("CT_small.dcm", "emri_small.dcm", "JPEG2000.dcm", "SC_rgb_rle.dcm")]
MUTATED_PART10 = st.one_of(
    st.builds(lambda valid, cut: valid[: cut % len(valid)], st.sampled_from(PART10), st.integers(0, 10**6)),
    st.builds(lambda valid, at, byte: valid[:128 + at % (len(valid) - 128)] + bytes([byte]) + valid[129 + at % (len(valid) - 128):],
              st.sampled_from(PART10), st.integers(0, 10**6), st.integers(0, 255)),
    st.builds(lambda valid, at, junk: valid[:at] + junk + valid[at + len(junk):],
              st.sampled_from(PART10), st.integers(132, 1500), st.binary(min_size=1, max_size=8)),
)


@settings(max_examples=500, deadline=None)
@given(MUTATED_PART10)
def test_a_part10_object_ingest_accepts_can_be_indexed_and_rendered(body):
    """Whatever `read_part10` accepts, the derivations ingest makes after its first S3 write
    (DICOM JSON, metadata, frames, bulk data) succeed: a malformed object is a 400 before any
    write, never a 500 after one."""
    import warnings

    from chalicelib.dicom import frames, json_model
    from chalicelib.services.ingest import read_part10

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            dataset = read_part10(body)
        except (BadRequest, PayloadTooLarge) as refused:  # a 400, or a 413 for pixels too large to decode
            assert refused.detail
            return
        json_model.metadata(dataset, "https://obelisk.example/api/studies/1/series/2/instances/3")
        assert list(frames.frames(dataset)) or "PixelData" not in dataset
        list(json_model.bulk_elements(dataset))
