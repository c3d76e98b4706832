"""QIDO-RS: search for studies, series and instances at every level PS3.18 defines."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api import responses
from chalicelib.api.routing import base_url, query_lists, query_value, route
from chalicelib.auth.policy import parse_source
from chalicelib.dicom.uids import require_uid
from chalicelib.services import search

bp = Blueprint(__name__)


def _context(*uids: tuple[str, str]):
    request = bp.current_request
    for value, name in uids:
        require_uid(value, name)
    source = parse_source(query_value(request, "album"), query_value(request, "inbox"))
    page = search.parse_page(query_value(request, "limit"), query_value(request, "offset"))
    return request, source, page


@route(bp, "/studies", methods=["GET"])
def search_studies(caller):
    request, source, page = _context()
    return responses.search_result(search.search_studies(caller, source, query_lists(request), page,
                                                         base_url(request)))


@route(bp, "/series", methods=["GET"])
def search_all_series(caller):
    request, source, page = _context()
    return responses.search_result(search.search_all_series(caller, source, query_lists(request), page,
                                                            base_url(request)))


@route(bp, "/instances", methods=["GET"])
def search_all_instances(caller):
    request, source, page = _context()
    return responses.search_result(search.search_instances(caller, None, None, source, query_lists(request),
                                                           page, base_url(request)))


@route(bp, "/studies/{study}/series", methods=["GET"])
def search_series(caller, study):
    request, source, page = _context((study, "StudyInstanceUID"))
    return responses.search_result(search.search_series(caller, study, source, query_lists(request), page,
                                                        base_url(request)))


@route(bp, "/studies/{study}/instances", methods=["GET"])
def search_study_instances(caller, study):
    request, source, page = _context((study, "StudyInstanceUID"))
    return responses.search_result(search.search_instances(caller, study, None, source, query_lists(request),
                                                           page, base_url(request)))


@route(bp, "/studies/{study}/series/{series}/instances", methods=["GET"])
def search_instances(caller, study, series):
    request, source, page = _context((study, "StudyInstanceUID"), (series, "SeriesInstanceUID"))
    return responses.search_result(search.search_instances(caller, study, series, source, query_lists(request),
                                                           page, base_url(request)))
