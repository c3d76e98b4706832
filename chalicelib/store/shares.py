"""Queries over album memberships and series shares: the facts the policy decides from."""
from __future__ import annotations

from pynamodb.exceptions import PutError

from chalicelib import clock
from chalicelib.store.models import AlbumMember, SeriesShare


def memberships(sub: str) -> dict[str, AlbumMember]:
    """Every album the user belongs to (their inbox included), by album id: one Query."""
    return {m.pk.removeprefix("ALBUM#"): m for m in AlbumMember.by_member.query(sub)}


def membership(album_id: str, sub: str) -> AlbumMember | None:
    try:
        return AlbumMember.get(*AlbumMember.key(album_id, sub))
    except AlbumMember.DoesNotExist:
        return None


def shares_of_study(study_uid: str, series_uid: str | None = None) -> list[SeriesShare]:
    """Every (album, series) row of a study, or of one of its series: one Query on `by-study`."""
    condition = None
    if series_uid:
        condition = SeriesShare.series_album.startswith(f"{series_uid}#")
    return list(SeriesShare.by_study.query(study_uid, condition))


def shares_in_album(album_id: str, study_uid: str | None = None) -> list[SeriesShare]:
    """The series an album holds, all or of one study."""
    condition = SeriesShare.sk.startswith(f"SERIES#{study_uid}#" if study_uid else "SERIES#")
    return list(SeriesShare.query(f"ALBUM#{album_id}", condition))


def add_series(album_id: str, study_uid: str, series_uid: str, listed_at: str) -> bool:
    """Puts a series into an album with a conditional put; False when it was there already.
    `listed_at` is the study's `qido.listing_key`."""
    share = SeriesShare(*SeriesShare.key(album_id, study_uid, series_uid), album_id=album_id, study_uid=study_uid,
                        series_uid=series_uid, series_album=f"{series_uid}#{album_id}", added_at=clock.local_iso(),
                        study_listed_at=listed_at)
    try:
        share.save(condition=SeriesShare.pk.does_not_exist())
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True
