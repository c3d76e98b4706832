"""QIDO-RS answer shaping (PS3.18 10.6): the attributes each level returns, `includefield`,
the KHEOPS custom counts, sorting and paging. Pure functions over DICOM JSON dicts."""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib import booleans
from chalicelib.dicom import json_model
from chalicelib.dicom.json_model import element
from chalicelib.errors import BadQueryParameter

FAVORITE_TAG = "00012345"
COMMENTS_TAG = "00012346"
CUSTOM_FIELDS = {"favorite": FAVORITE_TAG, FAVORITE_TAG: FAVORITE_TAG, "comments": COMMENTS_TAG,
                 COMMENTS_TAG: COMMENTS_TAG}
STUDY_SORT_KEYS = ("StudyDate", "StudyTime", "AccessionNumber", "ReferringPhysicianName", "PatientName",
                   "PatientID", "StudyInstanceUID", "StudyID")
SERIES_SORT_KEYS = ("Modality", "SeriesInstanceUID", "SeriesNumber", "NumberOfSeriesRelatedInstances")
INSTANCE_DEFAULT = json_model.INSTANCE_KEYWORDS + ("SeriesInstanceUID", "StudyInstanceUID",
                                                   "AvailableTransferSyntaxUID", "InstanceAvailability",
                                                   "RetrieveURL")
DEFAULT_LIMIT = 1000


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


@dataclass(frozen=True)
class IncludeFields:
    """What `includefield` asked for: `all`, tags, and the KHEOPS custom fields."""

    everything: bool
    tags: frozenset[str]
    custom: frozenset[str]


@dataclass
class SearchResult:
    items: list[dict]
    total: int
    offset: int

    @property
    def remaining(self) -> int:
        return max(0, self.total - self.offset - len(self.items))


def parse_includefields(params: dict[str, list[str]]) -> IncludeFields:
    everything, tags, custom = False, set(), set()
    for value in params.get("includefield", []):
        for name in (v.strip() for v in value.split(",") if v.strip()):
            if name.lower() == "all":
                everything = True
            elif name in CUSTOM_FIELDS:
                custom.add(CUSTOM_FIELDS[name])
            else:
                tag = json_model.tag_hex(name)
                if tag is None:
                    raise BadQueryParameter(f"unknown includefield {name!r}")
                tags.add(tag)
    return IncludeFields(everything, frozenset(tags), frozenset(custom))


def flag(params: dict[str, list[str]], name: str) -> bool | None:
    values = params.get(name)
    return booleans.parse(values[0], name) if values else None


def study_item(attributes: dict, series: list[dict], base_url: str) -> dict:
    """A study answer from its stored attributes and its visible series' attributes."""
    return counted_study_item(attributes, *counted_series(series), base_url)


def counted_series(series: list[dict]) -> tuple[set[str], int, int]:
    """What a study answer counts of its visible series (their attributes): modalities, number,
    instances."""
    modalities = {json_model.text_value(s, "Modality") for s in series}
    return modalities, len(series), sum(int(json_model.first_value(s, "NumberOfSeriesRelatedInstances") or 0)
                                        for s in series)


def counted_study_item(attributes: dict, modalities: set[str], series: int, instances: int, base_url: str) -> dict:
    """A study answer from its stored attributes and what it counts of its visible series: their
    modalities, number and instances."""
    item = {**attributes,
            "00080061": element("CS", *sorted(modalities - {""})),
            "00201206": element("IS", series),
            "00201208": element("IS", instances),
            "00080056": element("CS", "ONLINE"),
            "00081190": element("UR", f"{base_url}/studies/{json_model.first_value(attributes, 'StudyInstanceUID')}")}
    return dict(sorted(item.items()))


def series_item(attributes: dict, study_uid: str, instance_count: int, base_url: str) -> dict:
    item = dict(attributes)
    item["0020000D"] = element("UI", study_uid)
    item["00201209"] = element("IS", instance_count)
    item["00080056"] = element("CS", "ONLINE")
    series = json_model.first_value(attributes, "SeriesInstanceUID")
    item["00081190"] = element("UR", f"{base_url}/studies/{study_uid}/series/{series}")
    return dict(sorted(item.items()))


def instance_item(attributes: dict, study_uid: str, series_uid: str, transfer_syntax: str,
                  base_url: str, fields: IncludeFields) -> dict:
    """The default instance attributes plus what `includefield` names (all stored ones for `all`)."""
    wanted = {json_model.tag_hex(k) for k in INSTANCE_DEFAULT} | set(fields.tags)
    item = dict(attributes) if fields.everything else {t: v for t, v in attributes.items() if t in wanted}
    sop = json_model.first_value(attributes, "SOPInstanceUID")
    item["0020000D"] = element("UI", study_uid)
    item["0020000E"] = element("UI", series_uid)
    item["00083002"] = element("UI", transfer_syntax)
    item["00080056"] = element("CS", "ONLINE")
    item["00081190"] = element("UR", f"{base_url}/studies/{study_uid}/series/{series_uid}/instances/{sop}")
    return dict(sorted(item.items()))


def with_parents(item: dict, *parents: dict) -> dict:
    """An item with its study's (and series') attributes, as PS3.18 answers /series and /instances."""
    merged = {}
    for parent in parents:
        merged.update(parent)
    merged.update(item)
    return dict(sorted(merged.items()))


DEFAULT_STUDY_SORT = "-StudyDate"


def listing_key(study_attributes: dict) -> str:
    """The study list's order as one string (StudyDate padded to 8, then StudyTime), kept on each
    share row so a page of the default listing is chosen before any study row is read."""
    return (json_model.text_value(study_attributes, "StudyDate").ljust(8)
            + json_model.text_value(study_attributes, "StudyTime"))


def sort_studies(items: list[dict], sort: str | None) -> list[dict]:
    name = (sort or DEFAULT_STUDY_SORT).lstrip("-")
    if name not in STUDY_SORT_KEYS:
        raise BadQueryParameter(f"cannot sort by {name}")
    descending = (sort or DEFAULT_STUDY_SORT).startswith("-")
    return sorted(items, key=lambda a: (json_model.text_value(a, name), json_model.text_value(a, "StudyTime")),
                  reverse=descending)


def sort_series(items: list[dict], sort: str | None) -> list[dict]:
    name = (sort or "SeriesNumber").lstrip("-")
    if name not in SERIES_SORT_KEYS:
        raise BadQueryParameter(f"cannot sort by {name}")
    numeric = name in ("SeriesNumber", "NumberOfSeriesRelatedInstances")

    def key(item: dict):
        value = json_model.text_value(item, name)
        return (int(value) if value.lstrip("-").isdigit() else 0) if numeric else value

    return sorted(items, key=key, reverse=(sort or "").startswith("-"))


def sort_instances(items: list[dict]) -> list[dict]:
    def key(item: dict):
        value = json_model.text_value(item, "InstanceNumber")
        return int(value) if value.lstrip("-").isdigit() else 0

    return sorted(items, key=key)


def page_of(items: list[dict], page: Page) -> SearchResult:
    return SearchResult(items[page.offset: page.offset + page.limit], len(items), page.offset)
