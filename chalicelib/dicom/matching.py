"""QIDO-RS attribute matching (PS3.4 C.2.2.2): single value, list, wildcard, range, UID list,
and fuzzy person-name matching, over DICOM JSON attributes."""
from __future__ import annotations

import fnmatch
import functools
import re
from dataclasses import dataclass

from chalicelib.dicom import json_model
from chalicelib.errors import BadQueryParameter

RESERVED_PARAMETERS = {
    "limit", "offset", "includefield", "fuzzymatching", "album", "inbox", "favorite", "sort",
    "accept", "charset",
}


@dataclass(frozen=True)
class Criterion:
    tag: str
    value: str

    def __str__(self) -> str:
        return f"{json_model.keyword_of(self.tag)}={self.value}"


DATE_RANGE = re.compile(r"^([0-9]{8})?-([0-9]{8})?$")  # PS3.4 C.2.2.2.5 (ASCII digits); `-` alone: any date


def parse_criteria(params: dict[str, list[str]]) -> list[Criterion]:
    """The query's matching keys. Trailing spaces of a value are not significant (PS3.5 6.2: they
    pad values, and stored values are read without them); a date range not of the forms
    `YYYYMMDD-YYYYMMDD`, `YYYYMMDD-`, `-YYYYMMDD` is a 400."""
    criteria = []
    for name, values in params.items():
        if name in RESERVED_PARAMETERS:
            continue
        tag = json_model.tag_hex(name)
        if tag is None:
            raise BadQueryParameter(f"unknown attribute {name!r}")
        for value in values:
            value = "\\".join(alternative.rstrip(" ") for alternative in value.split("\\"))
            if json_model.vr_of(tag) == "DA" and any("-" in a and not DATE_RANGE.match(a) for a in value.split("\\")):
                raise BadQueryParameter(f"{name}={value}: a date range is YYYYMMDD-YYYYMMDD, YYYYMMDD- or -YYYYMMDD")
            criteria.append(Criterion(tag, value))
    return criteria


def study_criteria(params: dict[str, list[str]]) -> list[Criterion]:
    """Criteria of a study-level search (docs/kheops-compatibility.md): `Modality` is read as
    `ModalitiesInStudy`, as KHEOPS clients send it (`kheops-client list series --search-filter
    Modality CT`); other series- and instance-level keys are ignored (PS3.18 lets an origin
    server ignore keys it does not support), instead of matching nothing."""
    modality, modalities = json_model.tag_hex("Modality"), json_model.tag_hex("ModalitiesInStudy")
    lower_levels = {json_model.tag_hex(k) for k in json_model.SERIES_KEYWORDS + json_model.INSTANCE_KEYWORDS}
    criteria = []
    for criterion in parse_criteria(params):
        if criterion.tag == modality:
            criteria.append(Criterion(modalities, criterion.value))
        elif criterion.tag not in lower_levels:
            criteria.append(criterion)
    return criteria


def _values(attributes: dict, tag: str) -> list[str]:
    element = attributes.get(tag, {})
    out = []
    for value in element.get("Value", []):
        if isinstance(value, dict):
            out.append(value.get("Alphabetic", ""))
        else:
            out.append(str(value))
    return out


@functools.lru_cache(maxsize=1024)
def _wildcard_regex(pattern: str) -> re.Pattern:
    """A search's pattern is matched on every candidate: translated once, not once a candidate."""
    return re.compile(fnmatch.translate(pattern.lower().replace("[", "[[]")))


def _wildcard(pattern: str, value: str) -> bool:
    return _wildcard_regex(pattern).match(value.lower()) is not None


def _in_range(query: str, value: str) -> bool:
    low, _, high = query.partition("-")
    value = value.replace("-", "").replace(":", "")
    return (not low or value >= low.replace(":", "")) and (not high or value[: len(high)] <= high.replace(":", ""))


def _fuzzy_name(pattern: str, value: str) -> bool:
    """Each word of the query starts some component of the name (case-insensitive)."""
    words = [w for w in re.split(r"[\s^,]+", value.lower()) if w]
    return all(any(w.startswith(q) for w in words) for q in re.split(r"[\s^,*]+", pattern.lower()) if q)


def is_universal(query: str) -> bool:
    """Universal matching (PS3.4 C.2.2.2.3): an empty value, or only `*`s, which match any
    sequence of characters including none (C.2.2.2.4): an empty or absent attribute too."""
    return not query.strip("*")


def matches(attributes: dict, criterion: Criterion, fuzzy: bool = False) -> bool:
    query = criterion.value
    if is_universal(query):
        return True
    vr = attributes.get(criterion.tag, {}).get("vr") or json_model.vr_of(criterion.tag)
    values = _values(attributes, criterion.tag)
    if not values:
        return False
    if vr == "UI":
        wanted = {v for v in re.split(r"[\\,]", query) if v}
        return any(v in wanted for v in values)
    alternatives = query.split("\\")
    for value in values:
        for alternative in alternatives:
            if vr in ("DA", "TM", "DT") and "-" in alternative:
                if _in_range(alternative, value):
                    return True
            elif vr == "PN" and fuzzy and _fuzzy_name(alternative, value):
                return True
            elif _wildcard(alternative, value):
                return True
    return False


def matches_all(attributes: dict, criteria: list[Criterion], fuzzy: bool = False) -> bool:
    return all(matches(attributes, c, fuzzy) for c in criteria)
