"""Sharing studies and series (docs/kheops-compatibility.md, "Sharing")."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api import responses
from chalicelib.api.routing import form, query_value, route, source_principal
from chalicelib.dicom.uids import require_uid
from chalicelib.services import sharing, study_notes
from chalicelib.services.search import parse_page

bp = Blueprint(__name__)


def _context(*uids: tuple[str, str]):
    request = bp.current_request
    for value, name in uids:
        require_uid(value, name)
    return request


@route(bp, "/studies/{study}/users/{user}", methods=["PUT"])
def share_study_with_user(caller, study, user):
    request = _context((study, "StudyInstanceUID"))
    sharing.share_study_with_user(caller, study, user, query_value(request, "album"), query_value(request, "inbox"))
    return responses.created()


@route(bp, "/studies/{study}/series/{series}/users/{user}", methods=["PUT"])
def share_series_with_user(caller, study, series, user):
    _context((study, "StudyInstanceUID"), (series, "SeriesInstanceUID"))
    sharing.share_series_with_user(caller, study, series, user)
    return responses.created()


@route(bp, "/studies/{study}/series/{series}/albums/{album}", methods=["PUT"])
def add_series_to_album(caller, study, series, album):
    request = _context((study, "StudyInstanceUID"), (series, "SeriesInstanceUID"))
    sharing.add_series_to_album(caller, study, series, album, source_principal(request))
    return responses.created()


@route(bp, "/studies/{study}/albums/{album}", methods=["PUT"])
def add_study_to_album(caller, study, album):
    request = _context((study, "StudyInstanceUID"))
    sharing.add_study_to_album(caller, study, album, query_value(request, "album"), query_value(request, "inbox"),
                               source_principal(request))
    return responses.created()


@route(bp, "/studies/{study}", methods=["PUT"])
def appropriate_study(caller, study):
    """Into the caller's inbox (or an album token's album), from `album` or `X-Authorization-Source`."""
    request = _context((study, "StudyInstanceUID"))
    sharing.appropriate_study(caller, study, query_value(request, "album"), source_principal(request))
    return responses.created()


@route(bp, "/studies/{study}/series/{series}", methods=["PUT"])
def appropriate_series(caller, study, series):
    """Into the caller's inbox (or an album token's album); a claim of a series not stored here."""
    request = _context((study, "StudyInstanceUID"), (series, "SeriesInstanceUID"))
    sharing.appropriate_series(caller, study, series, source_principal(request))
    return responses.created()


@route(bp, "/studies/{study}/albums/{album}", methods=["DELETE"])
def remove_study_from_album(caller, study, album):
    _context((study, "StudyInstanceUID"))
    sharing.remove_from_album(caller, study, None, album)
    return responses.no_content()


@route(bp, "/studies/{study}/series/{series}/albums/{album}", methods=["DELETE"])
def remove_series_from_album(caller, study, series, album):
    _context((study, "StudyInstanceUID"), (series, "SeriesInstanceUID"))
    sharing.remove_from_album(caller, study, series, album)
    return responses.no_content()


@route(bp, "/studies/{study}", methods=["DELETE"])
def remove_study(caller, study):
    _context((study, "StudyInstanceUID"))
    sharing.remove(caller, study, None)
    return responses.no_content()


@route(bp, "/studies/{study}/series/{series}", methods=["DELETE"])
def remove_series(caller, study, series):
    _context((study, "StudyInstanceUID"), (series, "SeriesInstanceUID"))
    sharing.remove(caller, study, series)
    return responses.no_content()


def _favorite(caller, study, series, value):
    request = _context((study, "StudyInstanceUID"), *([(series, "SeriesInstanceUID")] if series else []))
    study_notes.set_favorite(caller, study, series, query_value(request, "album"), query_value(request, "inbox"), value)
    return responses.no_content()


@route(bp, "/studies/{study}/favorites", methods=["PUT"])
def favorite_study(caller, study):
    return _favorite(caller, study, None, True)


@route(bp, "/studies/{study}/favorites", methods=["DELETE"])
def unfavorite_study(caller, study):
    return _favorite(caller, study, None, False)


@route(bp, "/studies/{study}/series/{series}/favorites", methods=["PUT"])
def favorite_series(caller, study, series):
    return _favorite(caller, study, series, True)


@route(bp, "/studies/{study}/series/{series}/favorites", methods=["DELETE"])
def unfavorite_series(caller, study, series):
    return _favorite(caller, study, series, False)


@route(bp, "/studies/{study}/comments", methods=["GET"])
def list_study_comments(caller, study):
    request = _context((study, "StudyInstanceUID"))
    found = study_notes.list_comments(caller, study)
    page = parse_page(query_value(request, "limit"), query_value(request, "offset"))
    return responses.json_body(found[page.offset: page.offset + page.limit], headers={"X-Total-Count": str(len(found))})


@route(bp, "/studies/{study}/comments", methods=["POST"], content_types=["application/x-www-form-urlencoded"])
def comment_study(caller, study):
    request = _context((study, "StudyInstanceUID"))
    values = {k: v[-1] for k, v in form(request).items() if v}
    study_notes.post_comment(caller, study, values.get("comment"), values.get("to_user"))
    return responses.no_content()
