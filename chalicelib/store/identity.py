"""Study identity is per series (docs/data-model.md): each `SeriesRecord` carries the patient and
study attributes it was stored with. A study-level answer is built from the series the caller
reads, never from a study-wide record that whoever stored the UID first decided."""
from __future__ import annotations

from chalicelib.dicom import json_model
from chalicelib.store.models import SeriesRecord, StudyRecord


def of_series(records: list[SeriesRecord]) -> dict[tuple[str, str], dict]:
    """(study, series) -> the series' study identity; rows written before per-series identity
    answer their `StudyRecord`'s attributes (read once per study)."""
    legacy = sorted({r.study_uid for r in records if r.study_attributes is None})
    studies = {s.study_uid: s.attributes for s in StudyRecord.batch_get([StudyRecord.key(u) for u in legacy])} \
        if legacy else {}
    return {(r.study_uid, r.series_uid): json_model.subset(
        r.study_attributes if r.study_attributes is not None else studies.get(r.study_uid, {}),
        json_model.PATIENT_STUDY_KEYWORDS) for r in records}


def of_study(identities: dict[tuple[str, str], dict], study_uid: str) -> dict | None:
    """The identity a study answers with among the given series' (those the caller reads): the
    series with the lowest SeriesInstanceUID that has one. None when no series is given."""
    for key in sorted(k for k in identities if k[0] == study_uid):
        if identities[key]:
            return identities[key]
    return None


def read(study_uid: str, series_uids) -> dict[tuple[str, str], dict]:
    """The identities of these series of a study (one BatchGetItem)."""
    keys = [SeriesRecord.key(study_uid, s) for s in sorted(series_uids)]
    return of_series(list(SeriesRecord.batch_get(keys))) if keys else {}
