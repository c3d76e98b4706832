"""The `new_series` quiet period: changes to one study in one album by one source are collected
in a pending item and sent once no change came for `settings().webhook_debounce_seconds`.

Each change updates the pending item (idempotently: contributions are a set keyed by event id)
and queues a delayed check naming the version it produced. The check for the newest version
claims the item in one transaction (pending item removed, dispatch item written), so a worker
that dies at any point leaves either the pending item or the dispatch item for a redelivered
message to finish."""
from __future__ import annotations

import hashlib
import json
import math
import time

from pynamodb.exceptions import TransactWriteError

from chalicelib import clock
from chalicelib.config import settings
from chalicelib.events import messages
from chalicelib.events.messages import AlbumChange, NewSeriesDue
from chalicelib.store import albums
from chalicelib.store.items import get_or_none
from chalicelib.store.models import NewSeriesDispatch, PendingNewSeries, transact

COLLECTED = ("IMPORT_SERIES", "IMPORT_STUDY", "INSTANCES_ADDED")


def group_of(message: AlbumChange) -> tuple[str, str]:
    """(import source, group key): one notification per album, study, import source and actor."""
    import_source = (message.details or {}).get("import_source") or "upload"
    digest = hashlib.sha256(json.dumps([import_source, message.origin()], sort_keys=True).encode())
    return import_source, digest.hexdigest()[:20]


def contributions_of(message: AlbumChange) -> set[str]:
    """`{series} {event_id} {count}` per series; -1 counts every instance the series holds."""
    gained = (message.details or {}).get("number_of_new_instances")
    entries = set()
    for series_uid in message.series_uids or []:
        if isinstance(gained, dict):
            count = int(gained.get(series_uid, 0))
        elif isinstance(gained, int):
            count = gained
        else:
            count = -1
        entries.add(f"{series_uid} {message.event_id} {count}")
    return entries


def new_instances(contributions: set[str]) -> dict[str, int]:
    """Instances gained per series; -1 when a contribution counted 'all of them'."""
    totals: dict[str, int] = {}
    for entry in contributions or set():
        series_uid, _, count = entry.split(" ")
        if int(count) < 0 or totals.get(series_uid, 0) < 0:
            totals[series_uid] = -1
        else:
            totals[series_uid] = totals.get(series_uid, 0) + int(count)
    return totals


def collect(message: AlbumChange) -> None:
    """Adds one IMPORT_SERIES / INSTANCES_ADDED message to its pending notification."""
    entries = contributions_of(message)
    if not entries or not message.study_uid:
        return
    import_source, group = group_of(message)
    quiet = settings().webhook_debounce_seconds
    pending = PendingNewSeries(*PendingNewSeries.key(message.album_id, message.study_uid, group))
    pending.update(actions=[
        PendingNewSeries.album_id.set(message.album_id),
        PendingNewSeries.study_uid.set(message.study_uid),
        PendingNewSeries.import_source.set(import_source),
        PendingNewSeries.source.set(PendingNewSeries.source | message.origin()),
        PendingNewSeries.generation.set(PendingNewSeries.generation | clock.random_id(12)),
        PendingNewSeries.contributions.add(entries),
        PendingNewSeries.version.add(1),
        PendingNewSeries.due.set(time.time() + quiet),
    ])
    _queue_check(pending, quiet)


def _queue_check(pending: PendingNewSeries, delay: float) -> None:
    messages.send(NewSeriesDue(album_id=pending.album_id, study_uid=pending.study_uid, sk=pending.sk,
                               generation=pending.generation, version=int(pending.version)),
                  delay_seconds=math.ceil(delay))


def due_notification(check: NewSeriesDue) -> NewSeriesDispatch | None:
    """For a delayed check: the claimed notification to send now, or None (a newer change came,
    or it was sent). The caller sends it, then deletes the returned dispatch item."""
    dispatch_key = NewSeriesDispatch.key(check.album_id, check.generation, check.version)
    claimed = get_or_none(NewSeriesDispatch, dispatch_key)
    if claimed is not None:
        return claimed  # claimed before a crash: finish it
    pending = albums.pending_new_series_or_none(check.album_id, check.sk)
    if pending is None:
        return None
    if pending.generation != check.generation or int(pending.version) != int(check.version):
        return None
    remaining = float(pending.due) - time.time()
    if remaining > 0.5:  # delivered early: wait for the rest of the quiet period
        _queue_check(pending, remaining)
        return None
    return _claim(pending, dispatch_key)


def _claim(pending: PendingNewSeries, dispatch_key: tuple[str, str]) -> NewSeriesDispatch | None:
    dispatch = NewSeriesDispatch(
        *dispatch_key, album_id=pending.album_id, study_uid=pending.study_uid,
        import_source=pending.import_source, source=pending.source, contributions=pending.contributions,
        created_time=clock.local_iso(),
    )
    try:
        with transact() as transaction:
            transaction.delete(pending, condition=PendingNewSeries.version == pending.version)
            transaction.save(dispatch, condition=NewSeriesDispatch.pk.does_not_exist())
    except TransactWriteError:
        claimed = get_or_none(NewSeriesDispatch, dispatch_key)
        if claimed is not None:
            return claimed  # a duplicate check claimed it concurrently
        current = get_or_none(PendingNewSeries, (pending.pk, pending.sk))
        if current is None:
            return None
        if current.generation == pending.generation and current.version == pending.version:
            raise  # not a newer change: throttled or failed, so the check message comes back
        return None  # a newer change came: its own check will send
    return dispatch
