"""STOW-RS: `POST /studies[/{study}]` with multipart/related Part-10 parts or a bare
application/dicom body."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api import responses
from chalicelib.api.routing import base_url, principal, query_value, route
from chalicelib.dicom import multipart
from chalicelib.dicom.json_model import element
from chalicelib.dicom.uids import require_uid
from chalicelib.errors import BadRequest, UnsupportedMediaType
from chalicelib.services.ingest import CANNOT_UNDERSTAND, Failed, Ingest, IngestResult

bp = Blueprint(__name__)
STOW_CONTENT_TYPES = ["multipart/related", "application/dicom"]


def _instances(request) -> list[bytes]:
    content_type = request.headers.get("content-type", "")
    kind, _ = multipart.media_type(content_type)
    body = request.raw_body or b""
    if kind == "application/dicom":
        if not body:
            raise BadRequest("empty request body")
        return [body]
    parts = multipart.parse(body, content_type)
    for index, part in enumerate(parts, start=1):
        if part.content_type not in ("application/dicom", ""):
            raise UnsupportedMediaType(f"part {index} is {part.content_type}; expected application/dicom")
    return [part.body for part in parts]


def stow_body(result: IngestResult, url: str) -> dict:
    body: dict = {}
    studies = {s.study_uid for s in result.stored}
    if len(studies) == 1:
        body["00081190"] = element("UR", f"{url}/studies/{studies.pop()}")
    if result.stored:
        body["00081199"] = element("SQ", *[
            {
                "00081150": element("UI", s.sop_class_uid),
                "00081155": element("UI", s.sop_uid),
                "00081190": element("UR", f"{url}/studies/{s.study_uid}/series/{s.series_uid}/instances/{s.sop_uid}"),
            }
            for s in result.stored
        ])
    if result.failed:
        body["00081198"] = element("SQ", *[_failed_item(f) for f in result.failed])
    return body


def _failed_item(failure: Failed) -> dict:
    item = {"00081197": element("US", failure.reason), "00000902": element("LO", failure.comment[:64])}
    if failure.sop_uid:
        item["00081150"] = element("UI", failure.sop_class_uid)
        item["00081155"] = element("UI", failure.sop_uid)
    if failure.tags:
        item["00001005"] = element("AT", *failure.tags)
    return item


def _store(study: str | None):
    request = bp.current_request
    caller = principal(request)
    if study is not None:
        require_uid(study, "StudyInstanceUID")
    instances = _instances(request)
    ingest = Ingest(caller, query_value(request, "album"), study)
    unreadable: list[str] = []
    for data in instances:
        try:
            ingest.add(data)
        except BadRequest as refusal:
            unreadable.append(refusal.detail)
            ingest.result.failed.append(Failed("", "", CANNOT_UNDERSTAND, refusal.detail))
    result = ingest.result
    if len(unreadable) == len(instances):
        raise BadRequest(unreadable[0] if len(instances) == 1 else f"no part is a readable DICOM object: {unreadable[0]}")
    status = 200 if not result.failed else (202 if result.stored else 409)
    return responses.json_body(stow_body(result, base_url(request)), status=status,
                               headers={"Content-Type": responses.DICOM_JSON})


@route(bp, "/studies", methods=["POST"], content_types=STOW_CONTENT_TYPES)
def store_instances():
    return _store(None)


@route(bp, "/studies/{study}", methods=["POST"], content_types=STOW_CONTENT_TYPES)
def store_study_instances(study):
    return _store(study)
