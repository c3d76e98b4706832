"""A report's status changes (Draft, Final, Amended) as queue-only `REPORT_STATUS` messages on the
events queue, which the webhook fan-out turns into `report_status` deliveries for the album that
holds (or will hold) the report's SR. The message carries identifiers, never report text."""
from __future__ import annotations

from chalicelib import clock
from chalicelib.auth import policy
from chalicelib.auth.principals import Principal
from chalicelib.events import messages
from chalicelib.events.messages import AlbumChange
from chalicelib.store.models import Report


def sr_album(principal: Principal, study_uid: str) -> str:
    """Where signing will store the SR (as `reports._store_sr` does): an album of the launcher
    holding the study where they may add series, else their inbox."""
    return policy.report_store_target(principal, study_uid) or principal.user.inbox_id


def announce(report: Report, album_id: str, stored_sr: dict | None = None) -> None:
    """Sends the report's current status; `stored_sr` is the SR a signing stored."""
    stored_sr = stored_sr or {}
    details = {"report_id": report.report_id, "site_id": report.site_id, "accession": report.accession,
               "status": report.status, "version": int(report.version), "time": report.updated_at,
               "sr_series_uid": stored_sr.get("seriesInstanceUID"), "sr_instance_uid": stored_sr.get("sopInstanceUID")}
    messages.send(AlbumChange(
        event_id=clock.random_id(16), album_id=album_id, mutation_type="REPORT_STATUS",
        post_date=clock.local_iso(), actor_sub=report.launcher_sub,
        study_uid=stored_sr.get("studyInstanceUID") or report.tags["StudyInstanceUID"], details=details))
