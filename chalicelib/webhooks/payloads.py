"""The JSON bodies of webhook deliveries (docs/kheops-compatibility.md §12), built from the stored index."""
from __future__ import annotations

from chalicelib import clock
from chalicelib.config import settings
from chalicelib.dicom.json_model import first_value, text_value
from chalicelib.serializers import users as user_json
from chalicelib.store import identity, shares, users
from chalicelib.store.models import SeriesRecord

STUDY_FIELDS = {
    "patient_name": "PatientName", "patient_ID": "PatientID", "study_date": "StudyDate",
    "study_time": "StudyTime", "timezone_offset_from_utc": "TimezoneOffsetFromUTC",
    "study_description": "StudyDescription", "study_id": "StudyID", "accession_number": "AccessionNumber",
    "referring_physician_name": "ReferringPhysicianName", "patient_birth_date": "PatientBirthDate",
    "patient_sex": "PatientSex",
}
SERIES_FIELDS = {
    "modality": "Modality", "series_description": "SeriesDescription",
    "time_zone_offset_from_utc": "TimezoneOffsetFromUTC", "body_part_examined": "BodyPartExamined",
}


def album_user(sub: str | None, album_id: str | None = None, *, is_admin: bool | None = None) -> dict:
    """The user `sub` (`serializers.users.member`) plus `is_admin` in the album (looked up unless given)."""
    if album_id is not None and is_admin is None:
        membership = shares.membership(album_id, sub or "")
        is_admin = membership is not None and membership.is_admin
    return user_json.member(users.get_or_none(sub) if sub else None, sub or "",
                            is_admin if album_id is not None else None)


def source_response(album_id: str, origin: dict, *, is_admin: bool | None = None) -> dict:
    """The actor of an events-queue message, with the capability token or provider it used."""
    body = album_user(origin.get("actor_sub"), album_id, is_admin=is_admin)
    if origin.get("capability"):
        body["capability_token"] = {"id": origin["capability"].get("id", ""),
                                    "title": origin["capability"].get("title", "")}
    if origin.get("report_provider"):
        body["report_provider"] = {"name": origin["report_provider"].get("name", ""),
                                   "client_id": origin["report_provider"].get("client_id", "")}
    return body


def common(album_id: str, source: dict, *, is_manual_trigger: bool = False) -> dict:
    return {"host": settings().public_url.rstrip("/"), "album_id": album_id, "event_time": clock.local_iso(),
            "source": source, "is_manual_trigger": is_manual_trigger}


def study_url(study_uid: str) -> str:
    return f"{settings().api_url}/studies/{study_uid}"


def study_fields(study_uid: str, records: dict[str, SeriesRecord], *, with_url: bool = True) -> dict:
    """The study's fields as the event's series carry them (study identity is per series: never
    the identity of series the album does not hold)."""
    attributes = identity.of_study(identity.of_series(list(records.values())), study_uid) or {}
    body = {"study_uid": study_uid}
    body.update({name: text_value(attributes, keyword) for name, keyword in STUDY_FIELDS.items()})
    if with_url:
        body["retrieve_url"] = study_url(study_uid)
    return body


def series_records(study_uid: str, series_uids: list[str]) -> dict[str, SeriesRecord]:
    keys = [SeriesRecord.key(study_uid, uid) for uid in series_uids]
    return {record.series_uid: record for record in SeriesRecord.batch_get(keys)}


def series_fields(study_uid: str, series_uid: str, record: SeriesRecord | None, *, with_url: bool = True) -> dict:
    attributes = record.attributes if record else {}
    body = {name: text_value(attributes, keyword) for name, keyword in SERIES_FIELDS.items()}
    number = first_value(attributes, "SeriesNumber")
    body.update(series_uid=series_uid, series_number=int(number) if number is not None else None,
                number_of_series_related_instances=int(record.instance_count) if record else 0)
    if with_url:
        body["retrieve_url"] = f"{study_url(study_uid)}/series/{series_uid}"
    return body


def new_series(album_id: str, source: dict, study_uid: str, new_instances: dict[str, int], *,
               import_source: str | None, is_manual_trigger: bool = False) -> dict:
    """`new_instances` maps each series to the instances it gained; -1 means all it holds."""
    records = series_records(study_uid, sorted(new_instances))
    series = []
    for uid in sorted(new_instances):
        fields = series_fields(study_uid, uid, records.get(uid))
        gained = new_instances[uid]
        fields["number_of_new_instances"] = fields["number_of_series_related_instances"] if gained < 0 else gained
        series.append(fields)
    body = common(album_id, source, is_manual_trigger=is_manual_trigger)
    if import_source:
        body["import_source"] = import_source
    body["updated_study"] = {**study_fields(study_uid, records), "series": series}
    return body


def new_user(album_id: str, source: dict, user: dict, *, is_manual_trigger: bool = False) -> dict:
    return {**common(album_id, source, is_manual_trigger=is_manual_trigger), "new_user": user}


def remove_series(album_id: str, source: dict, study_uid: str, series_uids: list[str], *,
                  remove_all_series: bool) -> dict:
    """A partial removal shows the study's retrieve_url but no series URL; a full one neither."""
    records = series_records(study_uid, series_uids)
    series = [series_fields(study_uid, uid, records.get(uid), with_url=False) for uid in sorted(series_uids)]
    removed = {**study_fields(study_uid, records, with_url=not remove_all_series), "series": series}
    return {**common(album_id, source), "remove_all_series": remove_all_series, "removed_study": removed}


def report_status(album_id: str, source: dict, study_uid: str, details: dict) -> dict:
    """A report's new status: identifiers and times only, never the report's text."""
    report_id = details["report_id"]
    report = {"report_id": report_id, "site_id": details.get("site_id"), "accession": details.get("accession"),
              "status": details.get("status"), "version": details.get("version"),
              "status_time": details.get("time"), "study_uid": study_uid,
              "sr_series_uid": details.get("sr_series_uid"), "sr_instance_uid": details.get("sr_instance_uid"),
              "study_retrieve_url": study_url(study_uid), "report_url": f"{settings().api_url}/reports/{report_id}"}
    return {**common(album_id, source), "report": report}


def delete_album(album_id: str, source: dict) -> dict:
    return common(album_id, source)


def study_summary(study_uid: str, series_uids: list[str]) -> dict:
    """What the trigger history keeps of a study event."""
    return {"study_uid": study_uid, "series": [{"series_uid": uid} for uid in sorted(series_uids)],
            "retrieve_url": study_url(study_uid)}
