"""QIDO-RS: studies, series and instances the principal may see, built from the index tables."""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.auth import policy
from chalicelib.auth.principals import Principal
from chalicelib.dicom import json_model, matching
from chalicelib.dicom.json_model import element
from chalicelib.errors import BadQueryParameter
from chalicelib.store import shares
from chalicelib.store.models import InstanceRecord, SeriesRecord, StudyRecord

STUDY_SORT_KEYS = ("StudyDate", "StudyTime", "AccessionNumber", "ReferringPhysicianName", "PatientName",
                   "PatientID", "StudyInstanceUID", "StudyID")
DEFAULT_LIMIT = 1000


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


@dataclass
class SearchResult:
    items: list[dict]
    total: int
    offset: int

    @property
    def remaining(self) -> int:
        return max(0, self.total - self.offset - len(self.items))


def parse_page(limit: str | None, offset: str | None) -> Page:
    try:
        page = Page(int(limit) if limit not in (None, "") else DEFAULT_LIMIT,
                    int(offset) if offset not in (None, "") else 0)
    except ValueError as error:
        raise BadQueryParameter("limit and offset must be integers") from error
    if page.limit < 1 or page.offset < 0:
        raise BadQueryParameter("limit must be at least 1 and offset at least 0")
    return page


def _batch_get(model, keys: list[tuple[str, str]]):
    return list(model.batch_get(keys)) if keys else []


def study_json(study: StudyRecord, series: list[SeriesRecord], base_url: str) -> dict:
    attributes = dict(study.attributes)
    modalities = sorted({json_model.text_value(s.attributes, "Modality") for s in series} - {""})
    attributes["00080061"] = element("CS", *modalities)
    attributes["00201206"] = element("IS", len(series))
    attributes["00201208"] = element("IS", sum(int(s.instance_count) for s in series))
    attributes["00080056"] = element("CS", "ONLINE")
    attributes["00081190"] = element("UR", f"{base_url}/studies/{study.study_uid}")
    return dict(sorted(attributes.items()))


def series_json(series: SeriesRecord, base_url: str) -> dict:
    attributes = dict(series.attributes)
    attributes["0020000D"] = element("UI", series.study_uid)
    attributes["00201209"] = element("IS", int(series.instance_count))
    attributes["00080056"] = element("CS", "ONLINE")
    attributes["00081190"] = element("UR", f"{base_url}/studies/{series.study_uid}/series/{series.series_uid}")
    return dict(sorted(attributes.items()))


def instance_json(instance: InstanceRecord, base_url: str) -> dict:
    attributes = dict(instance.attributes)
    attributes["0020000D"] = element("UI", instance.study_uid)
    attributes["0020000E"] = element("UI", instance.series_uid)
    attributes["00083002"] = element("UI", instance.transfer_syntax_uid)
    attributes["00080056"] = element("CS", "ONLINE")
    attributes["00081190"] = element(
        "UR", f"{base_url}/studies/{instance.study_uid}/series/{instance.series_uid}/instances/{instance.sop_uid}"
    )
    return dict(sorted(attributes.items()))


def _sort(items: list[dict], sort: str | None) -> list[dict]:
    key_name = (sort or "-StudyDate").lstrip("-")
    if key_name not in STUDY_SORT_KEYS:
        raise BadQueryParameter(f"cannot sort by {key_name}")
    descending = (sort or "-StudyDate").startswith("-")
    return sorted(items, key=lambda a: (json_model.text_value(a, key_name),
                                        json_model.text_value(a, "StudyTime")), reverse=descending)


def search_studies(principal: Principal, source: policy.Source, params: dict[str, list[str]],
                   page: Page, base_url: str) -> SearchResult:
    visible: dict[str, set[str]] = {}
    for album_id in policy.readable_albums(principal, source):
        for share in shares.shares_in_album(album_id):
            visible.setdefault(share.study_uid, set()).add(share.series_uid)
    if principal.study_uids is not None:
        visible = {s: v for s, v in visible.items() if s in principal.study_uids}
    studies = _batch_get(StudyRecord, [StudyRecord.key(s) for s in visible])
    series = _batch_get(SeriesRecord, [SeriesRecord.key(st, se) for st, ses in visible.items() for se in ses])
    series_by_study: dict[str, list[SeriesRecord]] = {}
    for record in series:
        series_by_study.setdefault(record.study_uid, []).append(record)
    criteria = matching.parse_criteria(params)
    fuzzy = (params.get("fuzzymatching") or ["false"])[0].lower() == "true"
    items = [study_json(s, series_by_study.get(s.study_uid, []), base_url) for s in studies]
    items = [a for a in items if matching.matches_all(a, criteria, fuzzy)]
    items = _sort(items, (params.get("sort") or [None])[0])
    return SearchResult(items[page.offset: page.offset + page.limit], len(items), page.offset)


def search_series(principal: Principal, study_uid: str, source: policy.Source,
                  params: dict[str, list[str]], page: Page, base_url: str) -> SearchResult:
    visible = policy.authorize_study_read(principal, study_uid, source)
    records = _batch_get(SeriesRecord, [SeriesRecord.key(study_uid, s) for s in visible])
    criteria = matching.parse_criteria(params)
    items = [series_json(r, base_url) for r in records]
    items = [a for a in items if matching.matches_all(a, criteria)]
    items.sort(key=lambda a: int(json_model.first_value(a, "SeriesNumber") or 0))
    return SearchResult(items[page.offset: page.offset + page.limit], len(items), page.offset)


def search_instances(principal: Principal, study_uid: str, series_uid: str, source: policy.Source,
                     params: dict[str, list[str]], page: Page, base_url: str) -> SearchResult:
    policy.authorize_series_read(principal, study_uid, series_uid, source)
    records = InstanceRecord.query(f"STUDY#{study_uid}", InstanceRecord.sk.startswith(f"INSTANCE#{series_uid}#"))
    criteria = matching.parse_criteria(params)
    items = [instance_json(r, base_url) for r in records]
    items = [a for a in items if matching.matches_all(a, criteria)]
    items.sort(key=lambda a: int(json_model.first_value(a, "InstanceNumber") or 0))
    return SearchResult(items[page.offset: page.offset + page.limit], len(items), page.offset)
