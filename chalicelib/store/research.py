"""The rows of research albums (docs/research-albums.md), all in the album's own partition of the
albums table, so that deleting the album deletes them; no route returns the secret, the
pseudonyms or the original UIDs they hold.

A research album never holds an identified series: whatever is sent or stored into it lands in
its *intake* (`intake_id`), an album id with no album row, no member and no token, which no
principal reads (`auth.policy`), until the de-identification worker has placed the copy."""
from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.store.models import Album, _Item, _meta

INTAKE_SUFFIX = "-intake"  # album ids are alphanumeric: no real album id ends with it


class ResearchKey(_Item):
    """`ALBUM#{id}` / `RESEARCH`: the album's secret (seeds pseudonyms, keys the UID map, shifts
    dates) and the bytes its copies take (`copy_bytes`, the album statistics' storage)."""

    Meta = _meta("albums_table")
    secret = UnicodeAttribute()
    copy_bytes = NumberAttribute(default=0)
    copied_series = NumberAttribute(default=0)

    @staticmethod
    def key(album_id: str) -> tuple[str, str]:
        return f"ALBUM#{album_id}", "RESEARCH"


class HeldSeries(_Item):
    """`ALBUM#{id}` / `HELD#{hold_id}`: a series that may carry identifiers in its pixels, waiting
    in the intake for an album admin. Listed by `hold_id`, modality, reason and size only."""

    Meta = _meta("albums_table")
    hold_id = UnicodeAttribute()
    study_uid = UnicodeAttribute()  # the original's: never shown
    series_uid = UnicodeAttribute()
    modality = UnicodeAttribute(default="")
    reason = UnicodeAttribute()
    number_of_instances = NumberAttribute(default=0)
    held_since = UnicodeAttribute()
    actor = UnicodeAttribute(null=True)  # JSON of the sender's principal fields

    @staticmethod
    def key(album_id: str, hold_id: str) -> tuple[str, str]:
        return f"ALBUM#{album_id}", f"HELD#{hold_id}"


class Pseudonym(_Item):
    """`ALBUM#{id}` / `PATIENT#{original PatientID}`: the pseudonym the album gave a patient (the
    mapping Obelisk keeps; re-identification is a database read by an operator, never a route)."""

    Meta = _meta("albums_table")
    patient_id = UnicodeAttribute()
    pseudonym = UnicodeAttribute()

    @staticmethod
    def key(album_id: str, patient_id: str) -> tuple[str, str]:
        return f"ALBUM#{album_id}", f"PATIENT#{patient_id}"


class CopyOf(_Item):
    """`ALBUM#{id}` / `COPY#{original study}#{original series}`: which copy a series became."""

    Meta = _meta("albums_table")
    copy_study_uid = UnicodeAttribute()
    copy_series_uid = UnicodeAttribute()
    copied_at = UnicodeAttribute()

    @staticmethod
    def key(album_id: str, study_uid: str, series_uid: str) -> tuple[str, str]:
        return f"ALBUM#{album_id}", f"COPY#{study_uid}#{series_uid}"


def intake_id(album_id: str) -> str:
    return album_id if is_intake(album_id) else f"{album_id}{INTAKE_SUFFIX}"


def is_intake(album_id: str | None) -> bool:
    return bool(album_id) and album_id.endswith(INTAKE_SUFFIX)


def album_of_intake(intake: str) -> str:
    return intake.removesuffix(INTAKE_SUFFIX)


def research_profile(album_id: str) -> dict | None:
    """The options of a research album; None for any other album (or none)."""
    if is_intake(album_id):
        return None
    try:
        return Album.get(*Album.key(album_id)).research
    except Album.DoesNotExist:
        return None


def held_count(album_id: str) -> int:
    return HeldSeries.count(f"ALBUM#{album_id}", HeldSeries.sk.startswith("HELD#"))


def held(album_id: str) -> list[HeldSeries]:
    return list(HeldSeries.query(f"ALBUM#{album_id}", HeldSeries.sk.startswith("HELD#")))


def key_of(album_id: str) -> ResearchKey:
    return ResearchKey.get(*ResearchKey.key(album_id), consistent_read=True)
