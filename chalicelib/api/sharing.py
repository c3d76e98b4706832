"""Sharing studies and series (kheops-api.md 3.3)."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api import responses
from chalicelib.api.routing import principal, query_value, route
from chalicelib.dicom.uids import require_uid
from chalicelib.services import sharing

bp = Blueprint(__name__)


def _context(*uids: tuple[str, str]):
    request = bp.current_request
    caller = principal(request)
    for value, name in uids:
        require_uid(value, name)
    return request, caller


@route(bp, "/studies/{study}/users/{user}", methods=["PUT"])
def share_study_with_user(study, user):
    request, caller = _context((study, "StudyInstanceUID"))
    sharing.share_study_with_user(caller, study, user, query_value(request, "album"), query_value(request, "inbox"))
    return responses.created()


@route(bp, "/studies/{study}/series/{series}/users/{user}", methods=["PUT"])
def share_series_with_user(study, series, user):
    _, caller = _context((study, "StudyInstanceUID"), (series, "SeriesInstanceUID"))
    sharing.share_series_with_user(caller, study, series, user)
    return responses.created()


@route(bp, "/studies/{study}/series/{series}/albums/{album}", methods=["PUT"])
def add_series_to_album(study, series, album):
    _, caller = _context((study, "StudyInstanceUID"), (series, "SeriesInstanceUID"))
    sharing.add_series_to_album(caller, study, series, album)
    return responses.created()


@route(bp, "/studies/{study}/albums/{album}", methods=["PUT"])
def add_study_to_album(study, album):
    request, caller = _context((study, "StudyInstanceUID"))
    sharing.add_study_to_album(caller, study, album, query_value(request, "album"), query_value(request, "inbox"))
    return responses.created()


@route(bp, "/studies/{study}/albums/{album}", methods=["DELETE"])
def remove_study_from_album(study, album):
    _, caller = _context((study, "StudyInstanceUID"))
    sharing.remove_from_album(caller, study, None, album)
    return responses.no_content()


@route(bp, "/studies/{study}/series/{series}/albums/{album}", methods=["DELETE"])
def remove_series_from_album(study, series, album):
    _, caller = _context((study, "StudyInstanceUID"), (series, "SeriesInstanceUID"))
    sharing.remove_from_album(caller, study, series, album)
    return responses.no_content()


@route(bp, "/studies/{study}", methods=["DELETE"])
def remove_study(study):
    _, caller = _context((study, "StudyInstanceUID"))
    sharing.remove(caller, study, None)
    return responses.no_content()


@route(bp, "/studies/{study}/series/{series}", methods=["DELETE"])
def remove_series(study, series):
    _, caller = _context((study, "StudyInstanceUID"), (series, "SeriesInstanceUID"))
    sharing.remove(caller, study, series)
    return responses.no_content()
