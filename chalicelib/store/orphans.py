"""Orphan series (docs/data-model.md): a series no album holds (inboxes included) is purged. Its
index rows go first, so nothing of it can be read, shared or appended to once its last share is
gone; then its S3 objects, permanent and cached (those of its generations: `dicom_store`) and the study's assembled
answers. A later STOW or claim of the same UIDs, by anyone, starts an empty series with new
generations: nobody reads instances they neither stored nor were shared, not even through a
presigned URL issued before the purge."""
from __future__ import annotations

from pynamodb.exceptions import DeleteError

from chalicelib import clock
from chalicelib.store import dicom_store
from chalicelib.store.items import get_or_none
from chalicelib.store.models import InstanceRecord, SeriesRecord, SeriesShare, StudyComment


def is_held(study_uid: str, series_uid: str, left: str | None = None) -> bool:
    """Whether any album (but `left`, the album it just left) holds the series: one Query on
    `by-study`, whose lag cannot show the share just deleted as holding it."""
    condition = SeriesShare.series_album.startswith(f"{series_uid}#")
    return any(s.album_id != left for s in SeriesShare.by_study.query(study_uid, condition))


def purge_if_orphan(study_uid: str, series_uid: str, left: str | None = None) -> bool:
    """Purges the series when no album holds it; True when it did (False too when a STOW
    committed into it meanwhile: `purge`)."""
    row = _series_row(study_uid, series_uid)  # read before the holders: a share added after changes it
    if is_held(study_uid, series_uid, left):
        return False
    return purge(study_uid, series_uid, row)


def purge(study_uid: str, series_uid: str, row: SeriesRecord | None) -> bool:
    """Deletes the series' rows, then the objects of its generations: a series stored again under
    the same UIDs gets new generations, so no presigned URL issued before names its objects.
    The series row goes first, on condition that it is still `row`, as read before the holders
    were (its instance count, generation and shares added: every ingest commit and every share
    changes them, and holds the series): a STOW or share into the series meanwhile keeps it whole
    and held, and the purge gives way (False). A STOW committing after the row is gone starts a
    new series the purge does not touch (its rows and objects are not among those read)."""
    instances = list(InstanceRecord.query(f"STUDY#{study_uid}", InstanceRecord.sk.startswith(f"INSTANCE#{series_uid}#"),
                                          consistent_read=True))
    try:
        SeriesRecord(*SeriesRecord.key(study_uid, series_uid)).delete(condition=_unchanged(row))
    except DeleteError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    generations = {g for g in [row.generation if row else None, *(r.generation for r in instances)] if g}
    with InstanceRecord.batch_write() as batch:
        for record in instances:
            batch.delete(record)
    seal_comments(study_uid, series_uid)
    dicom_store.delete_objects([
        *dicom_store.series_objects(study_uid, series_uid, generations),
        *(k for prefix in dicom_store.assembled_prefixes(study_uid) for k in dicom_store.keys_under(prefix)),
    ])
    return True


def _series_row(study_uid: str, series_uid: str) -> SeriesRecord | None:
    return get_or_none(SeriesRecord, SeriesRecord.key(study_uid, series_uid), consistent_read=True)


def _unchanged(row: SeriesRecord | None):
    """The condition that the series row is as `row` read it (absent when None)."""
    if row is None:
        return SeriesRecord.pk.does_not_exist()
    generation = SeriesRecord.generation == row.generation if row.generation else SeriesRecord.generation.does_not_exist()
    shared = (SeriesRecord.shares_added == row.shares_added if row.shares_added is not None
              else SeriesRecord.shares_added.does_not_exist())
    return (SeriesRecord.instance_count == row.instance_count) & generation & shared


def seal_comments(study_uid: str, series_uid: str) -> None:
    """Comments written while their author read the purged series keep, in its place, a name no
    series will ever have: a series stored later under the same UIDs is another series and
    opens none of them (a comment reaches readers of every series its author read)."""
    tombstone = f"{series_uid}#purged-{clock.random_id(12)}"
    for comment in StudyComment.query(f"STUDY#{study_uid}", StudyComment.sk.startswith("COMMENT#")):
        if comment.series_uids and series_uid in comment.series_uids:
            comment.update(actions=[StudyComment.series_uids.set((set(comment.series_uids) - {series_uid}) | {tombstone})])


def purge_unheld(dry_run: bool = False) -> int:
    """Purges every stored series no album holds (those orphaned before purging existed): a scan
    of the series rows, run by the migrations when asked to. The number purged (with `dry_run`,
    found and left alone)."""
    purged = 0
    for record in SeriesRecord.scan(SeriesRecord.sk.startswith("SERIES#")):
        if dry_run:
            purged += not is_held(record.study_uid, record.series_uid)
        else:
            purged += purge_if_orphan(record.study_uid, record.series_uid)
    return purged
