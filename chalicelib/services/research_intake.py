"""Series entering a research album's intake: the message that has the research worker
(`services/research.py`) de-identify them into the album (docs/research-albums.md). Apart from the
worker so that ingest, which the worker uses, can queue copies without an import cycle."""
from __future__ import annotations

from chalicelib.auth.principals import Principal
from chalicelib.events import messages
from chalicelib.events.messages import SeriesEnteredResearch
from chalicelib.store.research import album_of_intake


def principal_fields(principal: Principal) -> dict:
    return {"sub": principal.sub, "kind": principal.kind, "capability_id": principal.capability_id,
            "capability_title": principal.capability_title, "client_id": principal.client_id}


def queue_copies(intake: str, principal: Principal, study_uid: str, series_uids) -> None:
    """Series that reached a research album's intake: one message each for the worker."""
    for series_uid in sorted(series_uids):
        messages.send(SeriesEnteredResearch(album_id=album_of_intake(intake), study_uid=study_uid,
                                            series_uid=series_uid, actor=principal_fields(principal)))
