"""Property tests of the parsers that face the network: they either answer a clear BadRequest or
a correct result, never anything else."""
from __future__ import annotations

import base64

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.auth.authenticate import MissingCredentials, presented_token
from chalicelib.dicom import matching, multipart
from chalicelib.errors import BadQueryParameter, BadRequest, Unauthenticated

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
