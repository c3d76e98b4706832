"""Large uploads: `POST /uploads` (presigned PUT of a STOW body, or presigned parts of a multipart
upload of one instance), `GET /uploads/{id}/parts` (what S3 holds: resuming), `POST /uploads/{id}/complete`,
`GET /uploads/{id}` (the STOW answer once ingested), and the uploads-queue handler that runs the ingest on the S3 event."""
from __future__ import annotations

import json
import logging
from urllib.parse import unquote_plus

from chalice import Blueprint, Response

from chalicelib.api import responses
from chalicelib.api.routing import JSON, base_url, query_value, route
from chalicelib.config import settings
from chalicelib.errors import BadRequest
from chalicelib.serializers import uploads as upload_json
from chalicelib.services import uploads

bp = Blueprint(__name__)
log = logging.getLogger("obelisk")


@route(bp, "/uploads", methods=["POST"], content_types=JSON)
def start_upload(caller):
    request = bp.current_request
    try:
        document = json.loads(request.raw_body or b"{}")
    except ValueError as error:
        raise BadRequest("the body must be a JSON object") from error
    if not isinstance(document, dict):
        raise BadRequest("the body must be a JSON object")
    upload = uploads.start(caller, query_value(request, "album"), document.get("study"),
                           str(document.get("content_type", "")), document.get("size"))
    status_url = f"{base_url(request)}/uploads/{upload.upload_id}"
    return responses.json_body(upload_json.started(upload, status_url), status=201, headers={"Location": status_url})


@route(bp, "/uploads/{upload_id}/complete", methods=["POST"])
def complete_upload(caller, upload_id):
    """Every part is in S3: the instance is assembled and ingested; poll the status URL."""
    request = bp.current_request
    uploads.complete(caller, upload_id)
    status_url = f"{base_url(request)}/uploads/{upload_id}"
    return Response(body=upload_json.pending(), status_code=202,
                    headers={"Content-Type": "application/json", "Location": status_url, "Retry-After": "1"})


@route(bp, "/uploads/{upload_id}/parts", methods=["GET"])
def upload_parts(caller, upload_id):
    """The parts S3 holds (ListParts) and fresh URLs for the missing ones: a client resumes with them."""
    request = bp.current_request
    held = uploads.progress(caller, upload_id)
    status_url = f"{base_url(request)}/uploads/{upload_id}"
    return responses.json_body(upload_json.progress(held, status_url))


@route(bp, "/uploads/{upload_id}", methods=["GET"])
def upload_result(caller, upload_id):
    answer = uploads.result(caller, upload_id)
    if answer is None:
        return Response(body=upload_json.pending(), status_code=202,
                        headers={"Content-Type": "application/json", "Retry-After": "1"})
    content_type = responses.DICOM_JSON if answer["status"] in (200, 202, 409) else "application/json"
    return responses.json_body(answer["body"], status=answer["status"], headers={"Content-Type": content_type})


@bp.on_sqs_message(queue=settings().uploads_queue, batch_size=1)
def ingest_upload(event):
    """S3 `ObjectCreated` notifications for `uploads/{id}/body`: the same ingest as STOW-RS."""
    for record in event:
        notification = json.loads(record.body)
        for entry in notification.get("Records", []):
            key = unquote_plus(entry.get("s3", {}).get("object", {}).get("key", ""))
            upload_id = uploads.upload_id_of(key)
            if upload_id:
                answer = uploads.ingest_uploaded(upload_id, settings().api_url)
                log.info("upload %s ingested with status %s", upload_id, answer["status"])
