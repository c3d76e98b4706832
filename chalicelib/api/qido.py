"""QIDO-RS: search for studies, series and instances at every level PS3.18 defines."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api import responses
from chalicelib.api.routing import base_url, page, query_lists, require_uids, route, source
from chalicelib.services import search

bp = Blueprint(__name__)


def _context(*uids: str):
    """The request, where it looks and its page, once the path's UIDs are valid."""
    require_uids(*uids)
    request = bp.current_request
    return request, source(request), page(request)


@route(bp, "/studies", methods=["GET"], reads_memberships=True)
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
    request, source, page = _context(study)
    return responses.search_result(search.search_series(caller, study, source, query_lists(request), page,
                                                        base_url(request)))


@route(bp, "/studies/{study}/instances", methods=["GET"])
def search_study_instances(caller, study):
    request, source, page = _context(study)
    return responses.search_result(search.search_instances(caller, study, None, source, query_lists(request),
                                                           page, base_url(request)))


@route(bp, "/studies/{study}/series/{series}/instances", methods=["GET"])
def search_instances(caller, study, series):
    request, source, page = _context(study, series)
    return responses.search_result(search.search_instances(caller, study, series, source, query_lists(request),
                                                           page, base_url(request)))
