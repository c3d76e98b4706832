"""Series entering a research album's intake: the message that has the research worker
(`services/research.py`) de-identify them into the album (docs/research-albums.md). Apart from the
worker so that ingest, which the worker uses, can queue copies without an import cycle."""
from __future__ import annotations

from chalicelib.auth.principals import Principal
from chalicelib.events import messages
from chalicelib.events.messages import SeriesEnteredResearch
from chalicelib.store import shares
from chalicelib.store.models import SeriesShare
from chalicelib.store.research import album_of_intake


def principal_fields(principal: Principal) -> dict:
    return {"sub": principal.sub, "kind": principal.kind, "capability_id": principal.capability_id,
            "capability_title": principal.capability_title, "client_id": principal.client_id}


def queue_copies(intake: str, principal: Principal, study_uid: str, series_uids) -> None:
    """Series that reached a research album's intake: one message each for the worker."""
    for series_uid in sorted(series_uids):
        messages.send(SeriesEnteredResearch(album_id=album_of_intake(intake), study_uid=study_uid,
                                            series_uid=series_uid, actor=principal_fields(principal)))


def enter(intake: str, principal: Principal, study_uid: str, series_uids) -> None:
    """Series just placed in a research album's intake: their messages must go out, or the series
    leave the intake again (a series waiting without a message would never be copied, held or
    purged, and its sender could not store it again): the placing and the messages succeed or
    fail together, the failure raised. A message already sent for a withdrawn series finds no
    intake share, and the worker drops it (`research.copy_series`, `gone`)."""
    try:
        queue_copies(intake, principal, study_uid, series_uids)
    except Exception:
        for series_uid in sorted(series_uids):
            shares.remove_series(SeriesShare(*SeriesShare.key(intake, study_uid, series_uid), album_id=intake,
                                             study_uid=study_uid, series_uid=series_uid))
        raise
