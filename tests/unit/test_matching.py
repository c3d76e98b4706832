"""QIDO attribute matching."""
import pytest

from chalicelib.dicom.matching import Criterion, matches, parse_criteria
from chalicelib.errors import BadQueryParameter

STUDY = {
    "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^John"}]},
    "00080020": {"vr": "DA", "Value": ["20240115"]},
    "0020000D": {"vr": "UI", "Value": ["1.2.3.4"]},
    "00080061": {"vr": "CS", "Value": ["CT", "SR"]},
    "00080050": {"vr": "SH"},
}


@pytest.mark.parametrize("tag, query, expected", [
    ("00100010", "Doe^John", True),
    ("00100010", "doe*", True),
    ("00100010", "D?e^*", True),
    ("00100010", "Smith*", False),
    ("00080020", "20240101-20240131", True),
    ("00080020", "-20231231", False),
    ("00080020", "20240115-", True),
    ("0020000D", "1.2.3.5,1.2.3.4", True),
    ("0020000D", "1.2.3", False),
    ("00080061", "SR", True),
    ("00080061", "MR\\CT", True),
    ("00080050", "A1", False),
    ("00080050", "*", True),
    ("00080050", "**", True),  # only *s is universal: an empty value matches (outside check round 15)
    ("00080050", "***", True),
    ("00080050", "?*", False),
    ("00100010", "**", True),
])
def test_matching_kinds(tag, query, expected):
    assert matches(STUDY, Criterion(tag, query)) is expected


def test_fuzzy_person_name_matches_any_component_start():
    assert matches(STUDY, Criterion("00100010", "joh"), fuzzy=True)
    assert not matches(STUDY, Criterion("00100010", "joh"), fuzzy=False)


def test_parameters_by_keyword_or_tag_and_unknown_refused():
    criteria = parse_criteria({"PatientName": ["Doe*"], "00080020": ["2024"], "limit": ["3"]})
    assert [c.tag for c in criteria] == ["00100010", "00080020"]
    with pytest.raises(BadQueryParameter):
        parse_criteria({"NoSuchKeyword": ["x"]})


def test_a_date_range_not_of_the_three_forms_is_a_bad_query_parameter():
    """Outside check round 19: `StudyDate=-` answered 500 at the study level; `--`, `-20200101-`,
    `20200101-2020` were read as ranges. The three forms pass, `-` alone reads as any date."""
    for value in ("20200101-20201231", "20200101-", "-20201231", "-", "20200101", "2020*"):
        assert parse_criteria({"StudyDate": [value]}) == [Criterion("00080020", value)]
    for value in ("--", "20200101--", "-20200101-", "20200101-2020", "2020-01-01", "20200101\\1-2", "20200101-٢٠٢١٠١٠١"):
        with pytest.raises(BadQueryParameter) as refused:
            parse_criteria({"StudyDate": [value]})
        assert "YYYYMMDD-YYYYMMDD" in str(refused.value.detail)
    assert matches({"00080020": {"vr": "DA", "Value": ["20200301"]}}, Criterion("00080020", "-"))
    assert not matches({"00080020": {"vr": "DA"}}, Criterion("00080020", "-"))


def test_trailing_spaces_of_a_query_value_are_not_significant():
    """PS3.5 6.2: trailing spaces pad LO/SH/PN values; a stored "PAD1 " is read as "PAD1", and a
    query for "PAD1 " found nothing (outside check round 19)."""
    assert parse_criteria({"PatientID": ["PAD1  "]}) == [Criterion("00100020", "PAD1")]
    assert parse_criteria({"PatientName": ["Rossi* \\Smith "]}) == [Criterion("00100010", "Rossi*\\Smith")]
    assert parse_criteria({"PatientID": ["  "]}) == [Criterion("00100020", "")]
