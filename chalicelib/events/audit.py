"""The read audit trail: who read which series of an album, through which kind of token, when.

One item per (token, series, album) per ten minutes of reading, so a viewer fetching hundreds of
frames writes once, not hundreds of times (an in-process memo per function instance; another
instance may write one more item). Kept 400 days."""
from __future__ import annotations

import hashlib
import threading
import time

from chalicelib import clock
from chalicelib.auth.principals import Principal
from chalicelib.store import albums
from chalicelib.store.models import SeriesRead

WINDOW_SECONDS = 600
KEEP_SECONDS = 400 * 24 * 3600
_seen: dict[str, float] = {}
_lock = threading.Lock()


def _fresh(key: str) -> bool:
    now = time.monotonic()
    with _lock:
        if now - _seen.get(key, -WINDOW_SECONDS) < WINDOW_SECONDS:
            return False
        if len(_seen) > 50_000:
            _seen.clear()
        _seen[key] = now
    return True


def record_read(principal: Principal, study_uid: str, series_uid: str, album_ids: list[str]) -> None:
    token = hashlib.sha256(principal.token.encode()).hexdigest()[:16]
    for album_id in album_ids:
        if not _fresh(f"{token}|{album_id}|{series_uid}"):
            continue
        try:
            SeriesRead(*SeriesRead.key(album_id, clock.local_iso(), clock.random_id(8)), reader_sub=principal.sub,
                       token_kind=principal.kind, capability_id=principal.capability_id, client_id=principal.client_id,
                       study_uid=study_uid, series_uid=series_uid, read_time=clock.utc_iso(),
                       expires_at=int(time.time()) + KEEP_SECONDS).save()
        except Exception:  # noqa: BLE001 - auditing must not fail the read it records
            with _lock:
                _seen.pop(f"{token}|{album_id}|{series_uid}", None)


def reads_of(album_id: str, limit: int, offset: int) -> tuple[list[dict], int]:
    items = albums.reads_newest_first(album_id)
    page = items[offset: offset + limit]
    return [{"time": r.read_time, "sub": r.reader_sub, "token_kind": r.token_kind,
             **({"capability_id": r.capability_id} if r.capability_id else {}),
             **({"client_id": r.client_id} if r.client_id else {}),
             "study_uid": r.study_uid, "series_uid": r.series_uid} for r in page], len(items)
