"""Liveness and readiness probes."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api import responses
from chalicelib.api.routing import route
from chalicelib.store import dicom_store
from chalicelib.store.models import Album, SeriesShare, StudyRecord, UserProfile

bp = Blueprint(__name__)


@route(bp, "/liveness", methods=["GET"], linkable=False)
def liveness():
    return responses.json_body({"status": "alive"})


@route(bp, "/readiness", methods=["GET"], linkable=False)
def readiness():
    checks = {}
    for name, check in (
        ("users", UserProfile.exists), ("albums", Album.exists), ("shares", SeriesShare.exists),
        ("dicom", StudyRecord.exists), ("bucket", dicom_store.bucket_answers),
    ):
        try:
            checks[name] = bool(check())
        except Exception:  # noqa: BLE001 - any failure means not ready
            checks[name] = False
    ready = all(checks.values())
    return responses.json_body({"status": "ready" if ready else "not ready", "checks": checks},
                               status=200 if ready else 503)
