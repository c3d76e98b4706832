"""Album memberships and series shares: the facts the policy decides from, and the writes that
keep each album's study list (`store.listing`) in step with its shares."""
from __future__ import annotations

import functools

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import clock
from chalicelib.errors import ConcurrentChange, SeriesNotFound
from chalicelib.store import aws, listing, orphans
from chalicelib.store.items import get_or_none
from chalicelib.store.models import (
    AlbumMember,
    AlbumStudy,
    AlbumStudyCount,
    AlbumStudyModality,
    AlbumStudyTerm,
    SeriesRecord,
    SeriesShare,
    transact,
)

WRITE_ATTEMPTS = 10  # attempts at rows other requests are changing, `back_off` between two




def memberships(sub: str) -> dict[str, AlbumMember]:
    """Every album the user belongs to (their inbox included), by album id: one Query."""
    return {m.pk.removeprefix("ALBUM#"): m for m in AlbumMember.by_member.query(sub)}


def membership(album_id: str, sub: str) -> AlbumMember | None:
    return get_or_none(AlbumMember, AlbumMember.key(album_id, sub))


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


def add_series(album_id: str, study_uid: str, series_uid: str, study_attributes: dict, modality: str,
               placed_by: str | None = None) -> bool:
    """Puts a series into an album; False when it was there already, SeriesNotFound when it is
    gone (purged meanwhile: docs/data-model.md). `study_attributes` (the study's as stored: its
    `StudyRecord`) and the series' `modality` go to the album's study list; `placed_by` names who
    placed it in a research album's intake. The album's row stops trusting its instance count
    (`listing.add` without one): a STOW that read the series' albums before this share commits
    would not grow it, and nothing here can tell (docs/data-model.md, "Instance counts on the
    study rows"); the row's studies are then counted from their series records."""
    key = SeriesShare.key(album_id, study_uid, series_uid)
    moment = clock.local_iso()
    for attempt in range(WRITE_ATTEMPTS):
        study_row = listing.row(album_id, study_uid)
        try:
            with transact() as transaction:
                write_share(transaction, album_id, study_uid, series_uid, moment, placed_by, only_new=True)
                transaction.update(SeriesRecord(*SeriesRecord.key(study_uid, series_uid)),
                                   actions=[SeriesRecord.shares_added.add(1)], condition=SeriesRecord.pk.exists())
                listing.add(transaction, album_id, study_uid, series_uid, study_attributes, modality, study_row is None,
                            None)
            return True
        except TransactWriteError:
            if _share_exists(key):
                return False
            if get_or_none(SeriesRecord, SeriesRecord.key(study_uid, series_uid), consistent_read=True) is None:
                raise SeriesNotFound("the series was deleted meanwhile") from None
            aws.back_off(attempt)
    raise ConcurrentChange(f"series {series_uid} could not be put into album {album_id}")


def _study_row_and_series(album_id: str, study_uid: str, series_uid: str) -> tuple[AlbumStudy | None, SeriesRecord | None]:
    """The album's row of the study and the series' record, both strongly consistent, read at once."""
    return tuple(aws.together(functools.partial(listing.row, album_id, study_uid),
                              functools.partial(get_or_none, SeriesRecord, SeriesRecord.key(study_uid, series_uid),
                                                consistent_read=True)))


def _still_has(instances: int):
    """The condition that a series record still counts `instances` (0: also a record without the
    attribute, which its model reads as 0)."""
    condition = SeriesRecord.instance_count == instances
    return condition | SeriesRecord.instance_count.does_not_exist() if instances == 0 else condition


def write_share(transaction: TransactWrite, album_id: str, study_uid: str, series_uid: str, moment: str,
                placed_by: str | None, *, only_new: bool) -> None:
    """The album's row for the series, in the caller's transaction (the one share write: `add_series`,
    ingest). `only_new`: the transaction fails when the row is there; else a row there keeps
    when (`added_at`) and by whom (`placed_by`) the series was placed."""
    actions = [SeriesShare.album_id.set(album_id), SeriesShare.study_uid.set(study_uid),
               SeriesShare.series_uid.set(series_uid), SeriesShare.series_album.set(f"{series_uid}#{album_id}"),
               SeriesShare.favorite.set(SeriesShare.favorite | False),
               SeriesShare.added_at.set(SeriesShare.added_at | moment)]
    if placed_by:
        actions.append(SeriesShare.placed_by.set(SeriesShare.placed_by | placed_by))
    transaction.update(SeriesShare(*SeriesShare.key(album_id, study_uid, series_uid)), actions=actions,
                       condition=SeriesShare.pk.does_not_exist() if only_new else None)


def remove_series(share: SeriesShare) -> bool:
    """Takes a series out of its album; the album's study row loses it, and goes (one study
    fewer) with its last series; the series is purged when no album holds it any more
    (`orphans`). False when the series was no longer there. The row loses the series' instances
    as read, on the condition that the series still has that many (a STOW meanwhile: read again)."""
    key = (share.pk, share.sk)
    for attempt in range(WRITE_ATTEMPTS):
        study_row, record = _study_row_and_series(share.album_id, share.study_uid, share.series_uid)
        try:
            with transact() as transaction:
                transaction.delete(SeriesShare(*key), condition=SeriesShare.pk.exists())
                if study_row is not None and share.series_uid in study_row.series_uids:  # else never listed
                    instances = None
                    if record is not None:
                        instances = int(record.instance_count)
                        transaction.condition_check(SeriesRecord, *SeriesRecord.key(share.study_uid, share.series_uid),
                                                    condition=_still_has(instances))
                    listing.remove(transaction, study_row, share.series_uid, instances)
            orphans.purge_if_orphan(share.study_uid, share.series_uid, left=share.album_id)
            return True
        except TransactWriteError:
            if not _share_exists(key):
                return False
            aws.back_off(attempt)
    raise ConcurrentChange(f"series {share.series_uid} could not be taken out of album {share.album_id}")


def _share_exists(key: tuple[str, str]) -> bool:
    return get_or_none(SeriesShare, key, consistent_read=True) is not None


def forget_album(album_id: str) -> None:
    """Every share, study row and the study count of a deleted album; series it alone held are
    purged (`orphans`)."""
    held = shares_in_album(album_id)
    with SeriesShare.batch_write() as batch:
        for share in held:
            batch.delete(share)
    for share in held:
        orphans.purge_if_orphan(share.study_uid, share.series_uid, left=album_id)
    with AlbumStudy.batch_write() as batch:
        for row in AlbumStudy.query(f"ALBUM#{album_id}", AlbumStudy.sk.startswith("STUDY#")):
            batch.delete(row)
    with AlbumStudyModality.batch_write() as batch:
        for row in AlbumStudyModality.query(f"ALBUM#{album_id}", AlbumStudyModality.sk.startswith("MODALITY#")):
            batch.delete(row)
    with AlbumStudyTerm.batch_write() as batch:
        for prefix in ("TERM#", "LONG#"):
            for row in AlbumStudyTerm.query(f"ALBUM#{album_id}", AlbumStudyTerm.sk.startswith(prefix)):
                batch.delete(row)
    AlbumStudyCount(*AlbumStudyCount.key(album_id)).delete()
