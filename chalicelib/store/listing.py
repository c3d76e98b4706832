"""The study list of albums: one `AlbumStudy` row per study an album holds, kept in step with
its `SeriesShare` rows by `store.shares`, and the album's `AlbumStudyCount`. A page of the list,
newest first, and its total cost DynamoDB requests in proportion to the page, not to the album;
a search on study attributes reads the albums' rows, not one study row per study."""
from __future__ import annotations

import functools
import hashlib
import heapq
from collections.abc import Callable
from dataclasses import dataclass

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import size
from pynamodb.transactions import TransactWrite

from chalicelib.dicom import json_model, qido
from chalicelib.store import aws, identity, rows, study_index
from chalicelib.store.models import AlbumStudy, AlbumStudyCount, VisibleStudyCount

MAX_PAGE = 1000  # rows per Query request of a list page
MAX_TERM_CHANGES = 80  # term rows a series leaving may write or delete (TransactWriteItems takes 100)
# What a list page reads of each row: not its keys nor its search keys (`study_index`), which
# the emulator serializes and botocore and PynamoDB parse for nothing (docs/benchmarks.md).
LISTED = ["study_uid", "listing", "series_uids", "study_attributes", "series_modalities", "instance_count", "counted"]


def row(album_id: str, study_uid: str) -> AlbumStudy | None:
    """The album's row for a study (strongly consistent), None when the album holds none of it."""
    try:
        return AlbumStudy.get(*AlbumStudy.key(album_id, study_uid), consistent_read=True)
    except AlbumStudy.DoesNotExist:
        return None


def add(transaction: TransactWrite, album_id: str, study_uid: str, series_uid: str, study_attributes: dict,
        modality: str, study_is_new: bool, instances: int | None = None) -> None:
    """The listing part of putting a series into an album, or `instances` more of it, inside the
    caller's transaction: the album's study row gains the series and its modality (and, once, the
    study's attributes as stored) and counts `instances` more (None: unknown, the row is no longer
    `counted`); a new study row also counts one more study and takes its search keys and
    `AlbumStudyTerm` rows (long-value rows included) from that copy (`study_index`: at most 68
    rows), and the series' modality its `AlbumStudyModality` row. Each guess is a condition, so a
    wrong one cancels the transaction (see `row`) and nothing is miscounted."""
    study_row = AlbumStudy(*AlbumStudy.key(album_id, study_uid))
    copy = json_model.subset(study_attributes, json_model.PATIENT_STUDY_KEYWORDS)
    order = f"{qido.listing_key(copy)}#{study_uid}"
    actions = [AlbumStudy.album_id.set(album_id), AlbumStudy.study_uid.set(study_uid),
               AlbumStudy.listing.set(AlbumStudy.listing | order),
               AlbumStudy.study_attributes.set(AlbumStudy.study_attributes | copy),
               AlbumStudy.attributes_from.set(AlbumStudy.attributes_from | series_uid),
               AlbumStudy.series_uids.add({series_uid}),
               AlbumStudy.series_modalities.add({modality_entry(series_uid, modality)})]
    if instances is None:
        actions.append(AlbumStudy.counted.remove())
    elif instances:
        actions.append(AlbumStudy.instance_count.add(instances))
    if study_is_new:
        terms = study_index.term_rows(album_id, study_uid, order, copy)
        actions += [*study_index.key_actions(copy, only_if_absent=True), AlbumStudy.indexed.set(True),
                    AlbumStudy.termed.set(True)]
        actions += [AlbumStudy.counted.set(True)] if instances is not None else []
        transaction.update(study_row, actions=actions, condition=AlbumStudy.pk.does_not_exist())
        count(transaction, album_id, +1, indexed=True, termed=True)
        for term in terms:
            transaction.save(term)
    else:
        transaction.update(study_row, actions=actions, condition=AlbumStudy.pk.exists())
    if modality:
        modality_row = study_index.modality_row(album_id, modality, study_uid)
        transaction.update(modality_row, actions=[type(modality_row).study_uid.set(study_uid),
                                                  type(modality_row).listing.set(type(modality_row).listing | order)])


def grow(transaction: TransactWrite, album_id: str, study_uid: str, series_uid: str, instances: int) -> None:
    """`instances` more of a series into the row of an album that holds it (not the one they are
    stored into: `add`), inside the caller's transaction; the transaction fails when the album no
    longer holds the series (the caller reads the series' albums again)."""
    transaction.update(AlbumStudy(*AlbumStudy.key(album_id, study_uid)),
                       actions=[AlbumStudy.instance_count.add(instances)],
                       condition=AlbumStudy.series_uids.contains(series_uid))


def grow_alone(album_id: str, study_uid: str, series_uid: str, instances: int) -> None:
    """`grow` in a write of its own (a series in more albums than a transaction holds), nothing
    when the album no longer holds the series."""
    try:
        AlbumStudy(*AlbumStudy.key(album_id, study_uid)).update(
            actions=[AlbumStudy.instance_count.add(instances)], condition=AlbumStudy.series_uids.contains(series_uid))
    except UpdateError:
        pass


def modality_entry(series_uid: str, modality: str) -> str:
    """A series' entry in `AlbumStudy.series_modalities`."""
    return f"{series_uid}={modality}"


def series_of_entry(entry: str) -> str:
    return entry.partition("=")[0]


def count(transaction: TransactWrite, album_id: str, delta: int, indexed: bool = False, termed: bool = False) -> None:
    """One study more or fewer in the album; `indexed` when its row is (`AlbumStudy.indexed`),
    `termed` when its term rows are written (`AlbumStudy.termed`)."""
    actions = [AlbumStudyCount.studies.add(delta), AlbumStudyCount.changes.add(1)]
    actions += [AlbumStudyCount.indexed.add(delta)] if indexed else []
    actions += [AlbumStudyCount.termed.add(delta)] if termed else []
    transaction.update(AlbumStudyCount(*AlbumStudyCount.key(album_id)), actions=actions)


def modalities_of(study_row: AlbumStudy, leaving: str | None = None) -> set[str]:
    """The modalities of the row's series (but `leaving`), as its `AlbumStudyModality` rows name them."""
    return {m.upper() for series, _, m in (e.partition("=") for e in study_row.series_modalities or ())
            if m and series != leaving}


def remove(transaction: TransactWrite, study_row: AlbumStudy, series_uid: str, instances: int | None = None) -> None:
    """The listing part of taking a series out of an album: `study_row` (as read) loses the
    series and its `instances` (None: unknown, the row is no longer `counted`; the caller checks
    the series still has them in the same transaction), or goes with its last one. The condition
    holds only while the row is as read."""
    series_uids = study_row.series_uids
    unchanged = (size(AlbumStudy.series_uids) == len(series_uids)) & AlbumStudy.series_uids.contains(series_uid) \
        & (AlbumStudy.termed.exists() if study_row.termed else AlbumStudy.termed.does_not_exist())
    if series_uids == {series_uid}:
        transaction.delete(study_row, condition=unchanged)
        count(transaction, study_row.album_id, -1, indexed=bool(study_row.indexed), termed=bool(study_row.termed))
        for term in _terms(study_row, study_row.study_attributes, study_row.listing) or ():
            transaction.delete(term)
        remaining: set[str] = set()
    else:
        copied, order, copy = _copy_from_another(study_row, series_uid)
        if order is not None:
            copied += _replace_terms(transaction, study_row, copy, order)
        actions = [AlbumStudy.series_uids.delete({series_uid}), *copied]
        if study_row.counted:
            actions.append(AlbumStudy.instance_count.add(-instances) if instances is not None
                           else AlbumStudy.counted.remove())
        entries = {e for e in study_row.series_modalities or () if series_of_entry(e) == series_uid}
        if entries:
            actions.append(AlbumStudy.series_modalities.delete(entries))
        transaction.update(study_row, actions=actions, condition=unchanged)
        remaining = modalities_of(study_row, leaving=series_uid)
        for modality in remaining if order else ():  # the study moved in the list
            modality_row = study_index.modality_row(study_row.album_id, modality, study_row.study_uid)
            transaction.update(modality_row, actions=[type(modality_row).listing.set(order)])
    for modality in modalities_of(study_row) - remaining:
        transaction.delete(study_index.modality_row(study_row.album_id, modality, study_row.study_uid))


def _copy_from_another(study_row: AlbumStudy, leaving: str) -> tuple[list, str | None, dict]:
    """When the series whose identity the row copies leaves (or the row does not say which it
    copies), the copy comes from a remaining series: members must see no identity of a series the
    album no longer holds. The update actions, the row's new `listing` (None: unchanged) and copy."""
    if study_row.attributes_from not in (None, leaving):
        return [], None, {}
    remaining = sorted(study_row.series_uids - {leaving})
    copy = json_model.subset(identity.read(study_row.study_uid, remaining[:1]).get(
        (study_row.study_uid, remaining[0]), {}), json_model.PATIENT_STUDY_KEYWORDS)
    order = f"{qido.listing_key(copy)}#{study_row.study_uid}"
    return [AlbumStudy.study_attributes.set(copy), AlbumStudy.attributes_from.set(remaining[0]),
            AlbumStudy.listing.set(order), *study_index.key_actions(copy)], order, copy


def _terms(study_row: AlbumStudy, attributes: dict | None, order: str) -> list | None:
    """The row's `AlbumStudyTerm` rows (long-value rows included), were it to copy `attributes`;
    None when it has none written."""
    if not study_row.termed:
        return None
    return study_index.term_rows(study_row.album_id, study_row.study_uid, order, attributes or {})


def _replace_terms(transaction: TransactWrite, study_row: AlbumStudy, copy: dict, order: str) -> list:
    """The term rows follow a new copy of the study's identity (`_copy_from_another`), in the
    caller's transaction: those of the old copy alone go, the new copy's are written (a value too
    long for suffix rows has its long-value row). When the change would not fit a transaction, the
    old ones go and the row is no longer `termed` (the album's wildcard searches then read its keys
    index, until `migrations.term_study_rows`). The update actions of the row."""
    old = _terms(study_row, study_row.study_attributes, study_row.listing)
    if old is None:
        return []
    new = study_index.term_rows(study_row.album_id, study_row.study_uid, order, copy)
    kept = {(t.pk, t.sk) for t in new}
    gone = [t for t in old if (t.pk, t.sk) not in kept]
    was = {(t.pk, t.sk): (t.listing, t.value) for t in old}
    changed = [t for t in new if was.get((t.pk, t.sk)) != (t.listing, t.value)]
    if len(gone) + len(changed) > MAX_TERM_CHANGES:
        for term in old:
            transaction.delete(term)
        transaction.update(AlbumStudyCount(*AlbumStudyCount.key(study_row.album_id)),
                           actions=[AlbumStudyCount.termed.add(-1)])
        return [AlbumStudy.termed.remove()]
    for term in gone:
        transaction.delete(term)
    for term in changed:
        transaction.save(term)
    return []


@dataclass
class Listed:
    """A study of the albums' lists: its series in those albums, the modality of those its rows
    hold (`modalities_known` when all), unless every row holding it was written before the copy,
    its attributes, and the instances of its series when every row holding it is `counted` and no
    two share a series (None otherwise: they are read from the series rows)."""
    series_uids: set[str]
    attributes: dict | None
    modalities: dict[str, str]
    instances: int | None = 0

    @property
    def modalities_known(self) -> bool:
        return self.series_uids <= self.modalities.keys()

    def take(self, album_row: rows.Row) -> None:
        """One album's row of the study into what the lists say of it."""
        series = album_row["series_uids"]
        if self.instances is not None:
            self.instances = self.instances + int(album_row.get("instance_count") or 0) \
                if album_row.get("counted") and not series & self.series_uids else None
        self.series_uids.update(series)
        self.attributes = self.attributes or album_row.get("study_attributes")
        self.modalities.update(entry.split("=", 1) for entry in album_row.get("series_modalities") or ())  # series=modality


def newest_first(album_ids: list[str], wanted: int | None = None) -> dict[str, Listed]:
    """The first `wanted` (None: all) distinct studies of the albums' lists together, newest
    first. One Query per album, each with a Limit of `wanted` + 1, sent at once (all: pages of
    1 MB, one album after the other): a study's `listing` is the same in every album, so its rows
    meet in the merge. The rows are decoded without models (`rows`)."""
    page_size = None if wanted is None else min(wanted + 1, MAX_PAGE)

    def album_rows(album_id: str) -> list[rows.Row]:
        return rows.query(AlbumStudy, AlbumStudy.by_listing, album_id, LISTED, newest_first=True,
                          limit=None if wanted is None else wanted + 1, page_size=page_size)

    if wanted is None:
        streams = [album_rows(album_id) for album_id in album_ids]
    else:
        streams = aws.together(*(functools.partial(album_rows, album_id) for album_id in album_ids))
    studies: dict[str, Listed] = {}
    for album_row in heapq.merge(*streams, key=lambda r: r["listing"], reverse=True):
        listed = studies.get(album_row["study_uid"])
        if listed is None:
            if wanted is not None and len(studies) == wanted:
                break
            listed = studies[album_row["study_uid"]] = Listed(set(), None, {})
        listed.take(album_row)
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


def all_indexed(holding: dict[str, AlbumStudyCount]) -> bool:
    """Whether every study row of the albums carries its search keys (`study_index`): rows
    written before them do once `migrations.index_study_rows` has run."""
    return all(int(c.indexed or 0) == int(c.studies) for c in holding.values())


def all_termed(holding: dict[str, AlbumStudyCount]) -> bool:
    """Whether every study row of the albums has its `AlbumStudyTerm` rows (`study_index`)."""
    return all(int(c.termed or 0) == int(c.studies) for c in holding.values())


def rows_of(album_ids: list[str], study_uids: list[str],
            shown: Callable[[dict], bool] | None = None) -> dict[str, Listed]:
    """The albums' rows of these studies, merged as `newest_first` merges them (but for `shown`:
    `merged`), in the order of `study_uids` (one BatchGetItem per 100 album-study pairs, sent at once)."""
    keys = [AlbumStudy.key(a, s) for s in study_uids for a in album_ids]
    return merged(rows.batch_get(AlbumStudy, keys, [*LISTED, "album_id"]), study_uids, shown)


def of_models(album_rows: dict[tuple[str, str], AlbumStudy], study_uids: list[str]) -> dict[str, Listed]:
    """`rows_of` from rows already read as models, (album, study) -> row (a StudyDate range's:
    `study_index.hits`)."""
    return merged([{"album_id": album_id, "study_uid": study_uid, "series_uids": r.series_uids or set(),
                    "study_attributes": r.study_attributes, "series_modalities": r.series_modalities,
                    "instance_count": r.instance_count, "counted": r.counted}
                   for (album_id, study_uid), r in album_rows.items()], study_uids)


def merged(album_rows: list[rows.Row], study_uids: list[str],
           shown: Callable[[dict], bool] | None = None) -> dict[str, Listed]:
    """The albums' rows of these studies merged, one `Listed` a study, in the order of `study_uids`:
    its series and modalities in all of them, its identity the copy of the first album's row (by
    album id), or of the first whose copy satisfies `shown` (a search's criteria) if any does."""
    found: dict[str, list[rows.Row]] = {}
    for album_row in album_rows:
        found.setdefault(album_row["study_uid"], []).append(album_row)
    studies: dict[str, Listed] = {}
    for study_uid in (s for s in study_uids if s in found):
        listed = studies[study_uid] = Listed(set(), None, {})
        held = found[study_uid]
        for album_row in held if len(held) == 1 else sorted(held, key=lambda r: (
                shown is not None and not shown(r.get("study_attributes") or {}), r["album_id"])):
            listed.take(album_row)
    return studies
