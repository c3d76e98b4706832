"""The term rows of a study (`store.study_index.term_rows`) miss no study a wildcard or fuzzy
search matches: whenever `matching` says a value matches a pattern, one of the value's term rows
starts with the pattern's run (`term_run`), or the value, too long for suffix rows, has its
long-value row (`LONG#`), the two Queries a search sends; and a study has at most 68 of them, so
STOW's transaction stays within DynamoDB's 100 items."""
from __future__ import annotations

import random

import pytest

from chalicelib.dicom import matching
from chalicelib.dicom.json_model import element
from chalicelib.store import study_index

NAME, PATIENT_ID, ACCESSION = study_index.PATIENT_NAME, study_index.PATIENT_ID, study_index.ACCESSION
VR = {NAME: "PN", PATIENT_ID: "LO", ACCESSION: "SH"}


def _attributes(name: str, patient_id: str = "", accession: str = "") -> dict:
    return {NAME: element("PN", {"Alphabetic": name}), PATIENT_ID: element("LO", patient_id),
            ACCESSION: element("SH", accession)}


def _found(attributes: dict, tag: str, pattern: str, fuzzy: bool) -> bool | None:
    """Whether the search's Queries on the term rows (the run's and the long values') return the
    study; None when the pattern has no run (the search reads the keys index instead)."""
    run = study_index.term_run(pattern, fuzzy and VR[tag] == "PN")
    if not run:
        return None
    rows = study_index.term_rows("album", "1.2.3", "order#1.2.3", attributes)
    code = study_index.TERM_CODES[tag]
    return any(r.sk.startswith((f"TERM#{code}#{run}", f"LONG#{code}#")) for r in rows)


TABLE = [  # (name, pattern, fuzzy)
    ("Rossi^Mario", "*ross*", False), ("Grossman^Ann", "*ROSS*", True), ("Rossi^Mario", "mar", True),
    ("Rossi^Mario", "*i^m*", False), ("Rossi^Mario", "*o?s*", False), ("de la Cruz^Maria José", "*CRUZ^m*", False),
    ("de la Cruz^Maria José", "cruz jos", True), ("de la Cruz^Maria José", "*josé", False),
    ("O'Brien^Seán", "*brien*", True), ("Müller^Jürgen", "*ÜLLER*", False), ("A^B", "*x*\\*b", False),
    ("Smith", "sm*th", True), ("Smith^John^^Dr", "dr", True), ("Smith^John", "*n", False), ("Li", "*i", False),
]


@pytest.mark.parametrize(("name", "pattern", "fuzzy"), TABLE)
def test_a_matching_name_is_found_by_its_terms(name, pattern, fuzzy):
    attributes = _attributes(name)
    assert matching.matches(attributes, matching.Criterion(NAME, pattern), fuzzy)
    for alternative in pattern.split("\\"):
        if matching.matches(attributes, matching.Criterion(NAME, alternative), fuzzy):
            assert _found(attributes, NAME, alternative, fuzzy) is not False, alternative


def _pattern(rng: random.Random, value: str) -> str:
    """A pattern made from a value: some spans become `*` or `?`, letters change case."""
    out, i = [], 0
    while i < len(value):
        roll = rng.random()
        if roll < 0.15:
            span = rng.randint(0, 4)
            out.append("*")
            i += span
        elif roll < 0.25:
            out.append("?")
            i += 1
        else:
            out.append(value[i].upper() if rng.random() < 0.3 else value[i])
            i += 1
    if rng.random() < 0.5:
        out.insert(0, "*")
    if rng.random() < 0.5:
        out.append("*")
    return "".join(out)


def test_no_study_a_pattern_matches_is_missed_by_its_terms():
    """Random values (mixed case, `^`, spaces, accents, empty) against patterns cut from them
    and from other values: every match is found, with and without fuzzy matching."""
    rng = random.Random(23)
    letters = "abcrosiMARIO^ ^-é.#1"
    values = ["", "a", "Rossi^Mario", "ross"] + ["".join(rng.choice(letters) for _ in range(rng.randint(0, 16)))
                                                 for _ in range(300)]
    values += ["".join(rng.choice(letters) for _ in range(rng.randint(17, 64))) for _ in range(100)]  # over the caps
    checked = 0
    for value in values:
        for tag in (NAME, PATIENT_ID, ACCESSION):
            attributes = _attributes(value if tag == NAME else "", value if tag == PATIENT_ID else "",
                                     value if tag == ACCESSION else "")
            for source in (value, rng.choice(values)):
                pattern = _pattern(rng, source)
                for fuzzy in (False, True):
                    if pattern in ("", "*") or not matching.matches(attributes, matching.Criterion(tag, pattern), fuzzy):
                        continue
                    assert _found(attributes, tag, pattern, fuzzy) is not False, (tag, value, pattern, fuzzy)
                    checked += 1
    assert checked > 500


def test_a_study_has_at_most_68_term_rows_and_one_for_a_value_too_long():
    longest = _attributes("abcdefghijklmnopqrstuvwxyz012345", "abcdefghijklmnopqrst", "0123456789abcdef")
    assert len(study_index.term_rows("a", "1.2", "o", longest)) == 68
    repeated = _attributes("x" * 32, "y" * 20, "")  # distinct suffixes (their first 12 characters) only
    assert len(study_index.term_rows("a", "1.2", "o", repeated)) == 12 + 12
    too_long = _attributes("Rossi-Abcdefghijklmnopqrstuvwxyz^Mario-Abcdefghijk", "P" * 21, "A" * 17)
    rows = study_index.term_rows("a", "1.2", "o", too_long)
    assert [(r.sk, r.value, r.listing) for r in rows] == [
        ("LONG#a#1.2", "a" * 17, "o"), ("LONG#n#1.2", "rossi-abcdefghijklmnopqrstuvwxyz^mario-abcdefghijk", "o"),
        ("LONG#p#1.2", "p" * 21, "o")]
    one_long = _attributes("x" * 33, "abc", "")
    assert sorted(r.sk for r in study_index.term_rows("a", "1.2", "o", one_long)) == [
        "LONG#n#1.2", "TERM#p#abc#1.2", "TERM#p#bc#1.2", "TERM#p#c#1.2"]


def test_the_run_of_a_pattern_is_its_longest_literal_run():
    assert study_index.term_run("*ross*", False) == "ross"
    assert study_index.term_run("*Ro?ssi*", False) == "ssi"
    assert study_index.term_run("ross mar", True) == "ross"
    assert study_index.term_run("*", False) == ""
    assert study_index.term_run("*0123456789abcdefgh*", False) == "0123456789ab"
