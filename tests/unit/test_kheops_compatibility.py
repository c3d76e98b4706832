"""Pure pieces of KHEOPS compatibility (docs/kheops-compatibility.md): boolean parameters, the
album name filter and its SOUNDEX, study-level QIDO keys, null for empty DICOM JSON values, and
API Gateway's answer to unknown routes."""
from __future__ import annotations

import pytest
from pydicom.dataset import Dataset

from chalicelib import booleans
from chalicelib.dicom import json_model, matching
from chalicelib.errors import BadFormParameter, BadQueryParameter
from chalicelib.services.albums import day_range, name_matches, soundex


@pytest.mark.parametrize("value, expected", [("true", True), ("True", True), (" TRUE ", True), ("false", False),
                                             ("False", False), (None, None)])
def test_booleans_are_read_whatever_their_case(value, expected):
    assert booleans.parse(value, "favorite") is expected


def test_a_boolean_that_is_neither_is_a_400_of_the_right_kind():
    with pytest.raises(BadQueryParameter):
        booleans.parse("yes", "favorite")
    with pytest.raises(BadFormParameter):
        booleans.parse("1", "addSeries", error=BadFormParameter)
    assert booleans.parse(None, "valid", False) is False


@pytest.mark.parametrize("text, code", [("Robert", "R163"), ("Rupert", "R163"), ("Tymczak", "T522"),
                                        ("Pfister", "P236"), ("a new album", "A541"), ("aaa new lfummn", "A541"),
                                        ("  42 x", "X000"), ("", "")])
def test_soundex_as_postgresql_computes_it(text, code):
    assert soundex(text) == code


@pytest.mark.parametrize("pattern, name, fuzzy, expected", [
    ("re edit name", "re edit name", False, True),
    ("RE EDIT NAME", "re edit name", False, True),
    ("na", "re edit name", False, False),  # KHEOPS matches the whole name, not a substring
    ("*me", "filter by name", False, True),
    ("a new*", "a new album2", False, True),
    ("a.new*", "a new album2", False, False),  # only * is special
    ("aaa new lfummn", "a new album1", False, False),
    ("aaa new lfummn", "a new album1", True, True),
])
def test_album_name_filter(pattern, name, fuzzy, expected):
    assert name_matches(pattern, name, fuzzy) is expected


def test_study_level_search_reads_modality_as_modalities_in_study_and_ignores_lower_levels():
    criteria = matching.study_criteria({"Modality": ["CT"], "PatientName": ["Doe*"], "SeriesDescription": ["x"],
                                        "SOPInstanceUID": ["1.2"], "limit": ["3"]})
    assert {(c.tag, c.value) for c in criteria} == {("00080061", "CT"), ("00100010", "Doe*")}


def test_empty_values_of_multi_valued_attributes_encode_as_null():
    dataset = Dataset()
    dataset.ImageType = ["ORIGINAL", "", "AXIAL"]
    dataset.add_new(0x00081060, "PN", "Doe^John\\\\Roe")
    dataset.PatientName = "Single^Value"
    dataset.add_new(0x00080070, "LO", "")
    item = Dataset()
    item.ImageType = ["", "X"]
    dataset.add_new(0x00081140, "SQ", [item])
    encoded = json_model.to_json(dataset)
    assert encoded["00080008"] == {"vr": "CS", "Value": ["ORIGINAL", None, "AXIAL"]}
    assert encoded["00081060"]["Value"] == [{"Alphabetic": "Doe^John"}, None, {"Alphabetic": "Roe"}]
    assert encoded["00100010"]["Value"] == [{"Alphabetic": "Single^Value"}]
    assert encoded["00080070"] == {"vr": "LO"}
    assert encoded["00081140"]["Value"][0]["00080008"]["Value"] == [None, "X"]


def test_unknown_routes_get_a_404_gateway_response_in_the_packaged_api():
    from infra import deploy

    responses = deploy.merged_template("dev")["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]
    missing = responses["MISSING_AUTHENTICATION_TOKEN"]
    assert missing["StatusCode"] == "404"
    assert '"message": "Not Found"' in missing["ResponseTemplates"]["application/json"]


@pytest.mark.parametrize("value, expected", [
    ("20261206", ("2026-12-06", "2026-12-06")),
    ("20261201-20261231", ("2026-12-01", "2026-12-31")),
    ("-20261206", ("0001-01-01", "2026-12-06")),
    ("20261206-", ("2026-12-06", "9999-12-31")),
    ("20240229", ("2024-02-29", "2024-02-29")),
])
def test_album_day_ranges_as_kheops_reads_them(value, expected):
    assert day_range(value, "created_time") == expected


@pytest.mark.parametrize("value", ["2026-12-06", "20261301", "20230229", "2026120", "-", "20261206-20261207-", "x"])
def test_an_album_day_range_kheops_would_refuse_is_a_400(value):
    with pytest.raises(BadQueryParameter):
        day_range(value, "created_time")
