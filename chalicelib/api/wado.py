"""WADO-RS (study, series, instance, metadata, frames, bulk data, rendered, thumbnail), the
study zip and WADO-URI. Bytes come from S3 by 303 redirect; small answers are inlined."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api import responses
from chalicelib.api.routing import base_url, query_lists, query_value, require_uids, route, source
from chalicelib.dicom import negotiation
from chalicelib.errors import BadQueryParameter
from chalicelib.services import retrieve

bp = Blueprint(__name__)


def _context(*uids: str | None):
    """The request, where it looks and the media types it accepts, once the path's UIDs are valid."""
    require_uids(*uids)
    request = bp.current_request
    accepted = negotiation.ranges(request.headers.get("accept"), query_value(request, "accept"))
    return request, source(request), accepted


def _answer(answer: retrieve.Answer) -> Response:
    headers = {"Cache-Control": "private, no-cache"}
    if answer.etag:
        headers["ETag"] = answer.etag
    if answer.not_modified:
        return Response(body="", status_code=304, headers=headers)
    if answer.location:
        return Response(body="", status_code=303, headers={**headers, "Location": answer.location})
    return Response(body=answer.body, status_code=200, headers={**headers, "Content-Type": answer.content_type})


def _window() -> tuple[float, float] | None:
    value = query_value(bp.current_request, "window")
    if not value:
        return None
    try:
        center, width = (float(v) for v in value.split(",")[:2])
    except ValueError as error:
        raise BadQueryParameter("window is center,width[,function]") from error
    return center, width


@route(bp, "/studies/{study}", methods=["GET"])
def retrieve_study(caller, study):
    _, source, accepted = _context(study)
    return responses.see_other(retrieve.study_location(caller, study, source, accepted))


@route(bp, "/studies/{study}/series/{series}", methods=["GET"])
def retrieve_series(caller, study, series):
    _, source, accepted = _context(study, series)
    return responses.see_other(retrieve.series_location(caller, study, series, source, accepted))


@route(bp, "/studies/{study}/series/{series}/instances/{instance}", methods=["GET"])
def retrieve_instance(caller, study, series, instance):
    _, source, accepted = _context(study, series, instance)
    return responses.see_other(retrieve.instance_location(caller, study, series, instance, source, accepted))


@route(bp, "/studies/{study}/metadata", methods=["GET"])
def study_metadata(caller, study):
    request, source, accepted = _context(study)
    negotiation.metadata(accepted)
    return _answer(retrieve.study_metadata(caller, study, source, base_url(request),
                                           request.headers.get("if-none-match")))


@route(bp, "/studies/{study}/series/{series}/metadata", methods=["GET"])
def series_metadata(caller, study, series):
    request, source, accepted = _context(study, series)
    negotiation.metadata(accepted)
    return _answer(retrieve.series_metadata(caller, study, series, source, base_url(request),
                                            request.headers.get("if-none-match")))


@route(bp, "/studies/{study}/series/{series}/instances/{instance}/metadata", methods=["GET"])
def instance_metadata(caller, study, series, instance):
    request, source, accepted = _context(study, series, instance)
    negotiation.metadata(accepted)
    return _answer(retrieve.instance_metadata(caller, study, series, instance, source, base_url(request),
                                              request.headers.get("if-none-match")))


@route(bp, "/studies/{study}/series/{series}/instances/{instance}/frames/{frames}", methods=["GET"])
def retrieve_frames(caller, study, series, instance, frames):
    _, source, accepted = _context(study, series, instance)
    return _answer(retrieve.frames(caller, study, series, instance, frames, source, accepted))


@route(bp, "/studies/{study}/series/{series}/instances/{instance}/bulkdata/{path}", methods=["GET"])
def retrieve_bulkdata(caller, study, series, instance, path):
    _, source, accepted = _context(study, series, instance)
    return _answer(retrieve.bulkdata(caller, study, series, instance, path, source, accepted))


def _image(caller, study, series=None, instance=None, frame=None, thumbnail=False):
    _, source, accepted = _context(study, series, instance)
    number = retrieve.parse_frame_list(frame)[0] if frame is not None else None
    return _answer(retrieve.rendered(caller, study, series, instance, number, source, accepted,
                                     None if thumbnail else _window(), thumbnail))


@route(bp, "/studies/{study}/rendered", methods=["GET"])
def study_rendered(caller, study):
    return _image(caller, study)


@route(bp, "/studies/{study}/series/{series}/rendered", methods=["GET"])
def series_rendered(caller, study, series):
    return _image(caller, study, series)


@route(bp, "/studies/{study}/series/{series}/instances/{instance}/rendered", methods=["GET"])
def instance_rendered(caller, study, series, instance):
    return _image(caller, study, series, instance)


@route(bp, "/studies/{study}/series/{series}/instances/{instance}/frames/{frames}/rendered", methods=["GET"])
def frame_rendered(caller, study, series, instance, frames):
    return _image(caller, study, series, instance, frames)


@route(bp, "/studies/{study}/thumbnail", methods=["GET"])
def study_thumbnail(caller, study):
    return _image(caller, study, thumbnail=True)


@route(bp, "/studies/{study}/series/{series}/thumbnail", methods=["GET"])
def series_thumbnail(caller, study, series):
    return _image(caller, study, series, thumbnail=True)


@route(bp, "/studies/{study}/series/{series}/instances/{instance}/thumbnail", methods=["GET"])
def instance_thumbnail(caller, study, series, instance):
    return _image(caller, study, series, instance, thumbnail=True)


@route(bp, "/studies/{study}/series/{series}/instances/{instance}/frames/{frames}/thumbnail", methods=["GET"])
def frame_thumbnail(caller, study, series, instance, frames):
    return _image(caller, study, series, instance, frames, thumbnail=True)


@route(bp, "/wado", methods=["GET"])
def wado_uri(caller):
    request = bp.current_request
    if query_value(request, "requestType") != "WADO":
        raise BadQueryParameter("requestType must be WADO")
    params = query_lists(request)
    uids = []
    for name in ("studyUID", "seriesUID", "objectUID"):
        values = params.get(name, [])
        if name == "objectUID" and not values:  # a series image: KHEOPS's series thumbnails
            uids.append(None)
            continue
        if len(values) != 1:
            raise BadQueryParameter(f"exactly one {name} is required")
        uids.append(values[0])
        require_uids(*uids)
    return _answer(retrieve.wado_uri(caller, *uids, query_value(request, "contentType"), source(request)))
