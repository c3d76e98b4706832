"""Sharing studies and series (docs/kheops-compatibility.md, "Sharing")."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api import responses
from chalicelib.api.routing import FORM, form_last_values, page, query_value, require_uids, route, source_principal
from chalicelib.services import sharing, study_notes

bp = Blueprint(__name__)


@route(bp, "/studies/{study}/users/{user}", methods=["PUT"])
def share_study_with_user(caller, study, user):
    require_uids(study)
    request = bp.current_request
    sharing.share_study_with_user(caller, study, user, query_value(request, "album"), query_value(request, "inbox"))
    return responses.created()


@route(bp, "/studies/{study}/series/{series}/users/{user}", methods=["PUT"])
def share_series_with_user(caller, study, series, user):
    require_uids(study, series)
    sharing.share_series_with_user(caller, study, series, user)
    return responses.created()


@route(bp, "/studies/{study}/series/{series}/albums/{album}", methods=["PUT"])
def add_series_to_album(caller, study, series, album):
    require_uids(study, series)
    request = bp.current_request
    sharing.add_series_to_album(caller, study, series, album, source_principal(request))
    return responses.created()


@route(bp, "/studies/{study}/albums/{album}", methods=["PUT"])
def add_study_to_album(caller, study, album):
    require_uids(study)
    request = bp.current_request
    sharing.add_study_to_album(caller, study, album, query_value(request, "album"), query_value(request, "inbox"),
                               source_principal(request))
    return responses.created()


@route(bp, "/studies/{study}", methods=["PUT"])
def appropriate_study(caller, study):
    """Into the caller's inbox (or an album token's album), from `album` or `X-Authorization-Source`."""
    require_uids(study)
    request = bp.current_request
    sharing.appropriate_study(caller, study, query_value(request, "album"), source_principal(request))
    return responses.created()


@route(bp, "/studies/{study}/series/{series}", methods=["PUT"])
def appropriate_series(caller, study, series):
    """Into the caller's inbox (or an album token's album); a claim of a series not stored here."""
    require_uids(study, series)
    request = bp.current_request
    sharing.appropriate_series(caller, study, series, source_principal(request))
    return responses.created()


@route(bp, "/studies/{study}/albums/{album}", methods=["DELETE"])
def remove_study_from_album(caller, study, album):
    require_uids(study)
    sharing.remove_from_album(caller, study, None, album)
    return responses.no_content()


@route(bp, "/studies/{study}/series/{series}/albums/{album}", methods=["DELETE"])
def remove_series_from_album(caller, study, series, album):
    require_uids(study, series)
    sharing.remove_from_album(caller, study, series, album)
    return responses.no_content()


@route(bp, "/studies/{study}", methods=["DELETE"])
def remove_study(caller, study):
    require_uids(study)
    sharing.remove(caller, study, None)
    return responses.no_content()


@route(bp, "/studies/{study}/series/{series}", methods=["DELETE"])
def remove_series(caller, study, series):
    require_uids(study, series)
    sharing.remove(caller, study, series)
    return responses.no_content()


def _favorite(caller, study, series, value):
    require_uids(study, series)
    request = bp.current_request
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
    require_uids(study)
    request = bp.current_request
    found = study_notes.list_comments(caller, study)
    shown = page(request)
    return responses.json_body(found[shown.offset: shown.offset + shown.limit], headers={"X-Total-Count": str(len(found))})


@route(bp, "/studies/{study}/comments", methods=["POST"], content_types=FORM)
def comment_study(caller, study):
    require_uids(study)
    request = bp.current_request
    values = form_last_values(request)
    study_notes.post_comment(caller, study, values.get("comment"), values.get("to_user"))
    return responses.no_content()
