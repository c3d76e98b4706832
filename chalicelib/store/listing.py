"""The study list of albums: one `AlbumStudy` row per study an album holds, kept in step with
its `SeriesShare` rows by `store.shares`, and the album's `AlbumStudyCount`. A page of the list,
newest first, and its total cost DynamoDB requests in proportion to the page, not to the album."""
from __future__ import annotations

import hashlib
import heapq

from pynamodb.expressions.condition import size
from pynamodb.transactions import TransactWrite

from chalicelib.store.models import AlbumStudy, AlbumStudyCount, VisibleStudyCount

MAX_PAGE = 1000  # rows per Query request of a list page


def row(album_id: str, study_uid: str) -> AlbumStudy | None:
    """The album's row for a study (strongly consistent), None when the album holds none of it."""
    try:
        return AlbumStudy.get(*AlbumStudy.key(album_id, study_uid), consistent_read=True)
    except AlbumStudy.DoesNotExist:
        return None


def add(transaction: TransactWrite, album_id: str, study_uid: str, series_uid: str, listed_at: str,
        study_is_new: bool) -> None:
    """The listing part of putting a series into an album, inside the caller's transaction: the
    album's study row gains the series; a new study row also counts one more study. Each guess
    is a condition, so a wrong one cancels the transaction (see `row`) and nothing is
    miscounted."""
    study_row = AlbumStudy(*AlbumStudy.key(album_id, study_uid))
    actions = [AlbumStudy.album_id.set(album_id), AlbumStudy.study_uid.set(study_uid),
               AlbumStudy.listing.set(AlbumStudy.listing | f"{listed_at}#{study_uid}"),
               AlbumStudy.series_uids.add({series_uid})]
    if study_is_new:
        transaction.update(study_row, actions=actions, condition=AlbumStudy.pk.does_not_exist())
        count(transaction, album_id, +1)
    else:
        transaction.update(study_row, actions=actions, condition=AlbumStudy.pk.exists())


def count(transaction: TransactWrite, album_id: str, delta: int) -> None:
    transaction.update(AlbumStudyCount(*AlbumStudyCount.key(album_id)),
                       actions=[AlbumStudyCount.studies.add(delta), AlbumStudyCount.changes.add(1)])


def remove(transaction: TransactWrite, study_row: AlbumStudy, series_uid: str) -> None:
    """The listing part of taking a series out of an album: `study_row` (as read) loses the
    series, or goes with its last one. The condition holds only while the row is as read."""
    series_uids = study_row.series_uids
    unchanged = (size(AlbumStudy.series_uids) == len(series_uids)) & AlbumStudy.series_uids.contains(series_uid)
    if series_uids == {series_uid}:
        transaction.delete(study_row, condition=unchanged)
        count(transaction, study_row.album_id, -1)
    else:
        transaction.update(study_row, actions=[AlbumStudy.series_uids.delete({series_uid})], condition=unchanged)


def newest_first(album_ids: list[str], wanted: int) -> dict[str, set[str]]:
    """The first `wanted` distinct studies of the albums' lists together, newest first, each with
    its series in those albums. One Query per album, each with a Limit of `wanted` + 1: a study's
    `listing` is the same in every album, so its rows meet in the merge."""
    streams = [AlbumStudy.by_listing.query(album_id, scan_index_forward=False, page_size=min(wanted + 1, MAX_PAGE))
               for album_id in album_ids]
    studies: dict[str, set[str]] = {}
    for study in heapq.merge(*streams, key=lambda r: r.listing, reverse=True):
        if study.study_uid not in studies and len(studies) == wanted:
            break
        studies.setdefault(study.study_uid, set()).update(study.series_uids)
    return studies


def counts(album_ids: list[str]) -> dict[str, AlbumStudyCount]:
    """The study counts of albums that hold any study (one BatchGetItem per 100 albums)."""
    rows = AlbumStudyCount.batch_get([AlbumStudyCount.key(a) for a in album_ids]) if album_ids else []
    return {c.pk.removeprefix("ALBUM#"): c for c in rows if int(c.studies) > 0}


def count_visible(sub: str, holding: dict[str, AlbumStudyCount]) -> int:
    """How many distinct studies the albums `holding` (from `counts`) hold together. One album:
    its count. Several: the count remembered for the user, kept while no album's `changes`
    moved; otherwise their study rows are read again (keys only) and the new count remembered."""
    if len(holding) <= 1:
        return sum(int(c.studies) for c in holding.values())
    signature = hashlib.sha256(",".join(f"{a}:{int(holding[a].changes)}" for a in sorted(holding)).encode()).hexdigest()
    try:
        remembered = VisibleStudyCount.get(*VisibleStudyCount.key(sub))
        if remembered.signature == signature:
            return int(remembered.studies)
    except VisibleStudyCount.DoesNotExist:
        pass
    studies = {listed.study_uid for album_id in sorted(holding)
               for listed in AlbumStudy.by_listing.query(album_id, attributes_to_get=["study_uid"])}
    VisibleStudyCount(*VisibleStudyCount.key(sub), signature=signature, studies=len(studies)).save()
    return len(studies)
