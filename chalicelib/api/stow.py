"""STOW-RS: `POST /studies[/{study}]` (multipart/related of Part-10 or DICOM JSON + bulk data,
or a bare application/dicom body)."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api import responses
from chalicelib.api.routing import base_url, query_value, request_body, route
from chalicelib.dicom import stow
from chalicelib.dicom.uids import require_uid
from chalicelib.services.ingest import store_body

bp = Blueprint(__name__)


def _store(caller, study: str | None):
    request = bp.current_request
    if study is not None:
        require_uid(study, "StudyInstanceUID")
    result = store_body(caller, query_value(request, "album"), study,
                        request.headers.get("content-type", ""), request_body(request))
    return responses.json_body(stow.response_document(result, base_url(request)), status=stow.status_of(result),
                               headers={"Content-Type": responses.DICOM_JSON})


@route(bp, "/studies", methods=["POST"], content_types=stow.CONTENT_TYPES)
def store_instances(caller):
    return _store(caller, None)


@route(bp, "/studies/{study}", methods=["POST"], content_types=stow.CONTENT_TYPES)
def store_study_instances(caller, study):
    return _store(caller, study)
