"""WADO-RS: retrieval. The API authorizes and answers 303 to a presigned S3 URL; no DICOM byte
passes through the function."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api import responses
from chalicelib.api.routing import principal, query_value, route
from chalicelib.auth.policy import parse_source
from chalicelib.dicom.uids import require_uid
from chalicelib.services import retrieve

bp = Blueprint(__name__)


@route(bp, "/studies/{study}/series/{series}/instances/{instance}", methods=["GET"])
def retrieve_instance(study, series, instance):
    request = bp.current_request
    caller = principal(request)
    for value, name in ((study, "StudyInstanceUID"), (series, "SeriesInstanceUID"), (instance, "SOPInstanceUID")):
        require_uid(value, name)
    source = parse_source(query_value(request, "album"), query_value(request, "inbox"))
    return responses.see_other(retrieve.instance_location(caller, study, series, instance, source))
