"""Large STOW uploads (past the gateway's 6 MB request limit): the client asks for an upload,
PUTs the body to S3 with presigned URLs (one PUT of a multipart/related body, or the parts of an
S3 multipart upload of one `application/dicom` instance, completed with `POST /uploads/{id}/complete`),
the S3 event runs the same ingest through the uploads queue, and the client polls for the STOW
response (docs/dicomweb.md, docs/upload.md)."""
from __future__ import annotations

import json
import math

from chalicelib import clock
from chalicelib.auth import policy
from chalicelib.auth.principals import Principal
from chalicelib.config import settings
from chalicelib.dicom import multipart, stow
from chalicelib.dicom.multipart import media_type
from chalicelib.dicom.uids import require_uid
from chalicelib.errors import BadRequest, NotFound, ObeliskError, UnsupportedMediaType
from chalicelib.serializers.uploads import Progress, Upload
from chalicelib.services.ingest import Ingest, store_body
from chalicelib.services.ingest_results import CANNOT_UNDERSTAND, Failed, IngestResult
from chalicelib.services.parsed import parse
from chalicelib.store import dicom_store
from chalicelib.store.models import UserProfile

MIN_PART_SIZE = 8 * 1024 * 1024
MAX_PARTS = 10_000  # S3's limit per multipart upload



def start(principal: Principal, album_id: str | None, study_uid: str | None, content_type: str,
          size: int | None = None) -> Upload:
    """Checks what can be checked now (write scope, album), records the request, presigns the PUT,
    or, when the size of one `application/dicom` instance is given, every part of a multipart upload."""
    kind, params = media_type(content_type)
    if kind not in ("multipart/related", "application/dicom"):
        raise BadRequest("content_type must be multipart/related (with a boundary) or application/dicom")
    if kind == "multipart/related" and not params.get("boundary"):
        raise BadRequest("a multipart content_type needs its boundary")
    if size is not None:
        _check_instance_size(kind, size)
    if study_uid is not None:
        require_uid(study_uid, "StudyInstanceUID")
    policy.series_add_target(principal, album_id)
    upload_id = clock.random_id(24)
    request = {"sub": principal.sub, "album_id": album_id, "study_uid": study_uid, "content_type": content_type,
               "created_at": clock.local_iso(), "principal": _principal_fields(principal)}
    key = dicom_store.upload_key(upload_id)
    if size is None:
        _save_request(upload_id, request)
        return Upload(upload_id, dicom_store.presigned_put(key, content_type), content_type)
    part_size = _part_size(size)
    request["multipart_id"] = dicom_store.start_multipart(key, content_type)
    request["size"] = size
    _save_request(upload_id, request)
    urls = [dicom_store.presigned_part(key, request["multipart_id"], n)
            for n in range(1, max(1, math.ceil(size / part_size)) + 1)]
    return Upload(upload_id, None, content_type, part_size, urls)


def _check_instance_size(kind: str, size: object) -> None:
    if kind != "application/dicom":
        raise BadRequest("a multipart upload (with size) carries one application/dicom instance")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise BadRequest("size must be a positive integer (bytes)")
    if size > settings().upload_max_bytes:
        raise BadRequest(f"an instance may not exceed {settings().upload_max_bytes} bytes")


def _save_request(upload_id: str, request: dict) -> None:
    dicom_store.put(f"uploads/{upload_id}/request.json", json.dumps(request).encode(), "application/json")


def complete(principal: Principal, upload_id: str) -> None:
    """Completes the multipart upload from the parts S3 holds (the client needs no ETag); the S3
    event then runs the ingest. Idempotent: a second call after completion changes nothing."""
    request = _own_request(principal, upload_id)
    if "multipart_id" not in request:
        raise BadRequest("this upload is a single PUT; there is nothing to complete")
    if dicom_store.head(dicom_store.upload_key(upload_id)) is not None or \
            dicom_store.head(dicom_store.upload_result_key(upload_id)) is not None:
        return
    key = dicom_store.upload_key(upload_id)
    try:
        parts = dicom_store.uploaded_parts(key, request["multipart_id"])
    except dicom_store.NoSuchUpload as error:
        raise NotFound("this upload was aborted; start a new one", message="Upload Not Found") from error
    received = sum(p["Size"] for p in parts)
    expected = math.ceil(request["size"] / _part_size(request["size"]))
    if received != request["size"] or [p["PartNumber"] for p in parts] != list(range(1, expected + 1)):
        raise BadRequest(f"{received} of {request['size']} bytes received in {len(parts)} of {expected} parts")
    dicom_store.complete_multipart(key, request["multipart_id"], parts)



def progress(principal: Principal, upload_id: str) -> Progress:
    """The parts of the caller's multipart upload that S3 holds (ListParts), so that a client that
    lost its state (a reloaded page) sends only the others; 404 for someone else's upload, for a
    single-PUT upload, and for one S3 aborted (the lifecycle rule: start again)."""
    request = _own_request(principal, upload_id)
    if "multipart_id" not in request:
        raise NotFound("this upload is a single PUT; it has no parts", message="Upload Not Found")
    size, part_size = request["size"], _part_size(request["size"])
    count = max(1, math.ceil(size / part_size))
    if dicom_store.head(dicom_store.upload_key(upload_id)) is not None or \
            dicom_store.head(dicom_store.upload_result_key(upload_id)) is not None:
        received = [{"part_number": n, "size": _expected_part_size(size, part_size, n)} for n in range(1, count + 1)]
        return Progress(upload_id, size, part_size, True, received, [])
    key = dicom_store.upload_key(upload_id)
    try:
        held = dicom_store.uploaded_parts(key, request["multipart_id"])
    except dicom_store.NoSuchUpload as error:
        raise NotFound("this upload was aborted; start a new one", message="Upload Not Found") from error
    received = [{"part_number": p["PartNumber"], "size": p["Size"]} for p in held
                if p["PartNumber"] <= count and p["Size"] == _expected_part_size(size, part_size, p["PartNumber"])]
    have = {p["part_number"] for p in received}
    missing = [(n, dicom_store.presigned_part(key, request["multipart_id"], n))
               for n in range(1, count + 1) if n not in have]
    return Progress(upload_id, size, part_size, False, received, missing)


def _expected_part_size(size: int, part_size: int, number: int) -> int:
    return min(part_size, size - (number - 1) * part_size)


def _part_size(size: int) -> int:
    return max(MIN_PART_SIZE, math.ceil(size / MAX_PARTS / 1024 ** 2) * 1024 ** 2)


def _own_request(principal: Principal, upload_id: str) -> dict:
    request = _request(upload_id)
    if request["sub"] != principal.sub:
        raise NotFound("Upload does not exist or you don't have access", message="Upload Not Found")
    return request


def _request(upload_id: str) -> dict:
    if not upload_id.isalnum() or dicom_store.head(f"uploads/{upload_id}/request.json") is None:
        raise NotFound("Upload does not exist or you don't have access", message="Upload Not Found")
    return json.loads(dicom_store.read(f"uploads/{upload_id}/request.json"))


def _principal_fields(principal: Principal) -> dict:
    """What the ingest needs to act later as the uploader did (pins included; never the token)."""
    return {"kind": principal.kind, "scope": sorted(principal.scope), "album_id": principal.album_id,
            "inbox_only": principal.inbox_only, "capability_id": principal.capability_id,
            "capability_title": principal.capability_title, "client_id": principal.client_id,
            "study_uids": sorted(principal.study_uids) if principal.study_uids is not None else None}


def _principal_of(request: dict) -> Principal:
    fields = dict(request["principal"])
    fields["scope"] = frozenset(fields["scope"])
    if fields["study_uids"] is not None:
        fields["study_uids"] = frozenset(fields["study_uids"])
    return Principal(user=UserProfile.get(*UserProfile.key(request["sub"])), **fields)


def ingest_uploaded(upload_id: str, base_url: str) -> dict:
    """Runs the STOW of an uploaded body once and stores its answer; the body is then deleted."""
    request = _request(upload_id)
    if dicom_store.head(dicom_store.upload_result_key(upload_id)) is not None:
        return json.loads(dicom_store.read(dicom_store.upload_result_key(upload_id)))
    try:
        result = _ingest(_principal_of(request), request, dicom_store.upload_key(upload_id))
        answer = {"status": stow.status_of(result), "body": stow.response_document(result, base_url)}
    except ObeliskError as error:
        answer = {"status": error.status, "body": {"message": error.message, "detail": error.detail}}
    dicom_store.put(dicom_store.upload_result_key(upload_id), json.dumps(answer).encode(), "application/json")
    dicom_store.delete_objects([dicom_store.upload_key(upload_id)])
    return answer


def _ingest(principal: Principal, request: dict, key: str) -> IngestResult:
    """A multipart body of Part-10 parts is streamed (`_ingest_streamed`); a single instance, or
    DICOM JSON with bulk parts (which refer to each other), is read whole."""
    kind, params = media_type(request["content_type"])
    if kind == "multipart/related" and params.get("type", "application/dicom") == "application/dicom":
        return _ingest_streamed(principal, request, key)
    return store_body(principal, request["album_id"], request["study_uid"], request["content_type"],
                      dicom_store.read(key))


def _ingest_streamed(principal: Principal, request: dict, key: str) -> IngestResult:
    """STOW of a stored multipart body with one part in memory at a time, in two passes: the first
    reads the multipart structure only, so a malformed body is refused (400) before anything is
    written, as `store_body` does; the second reads and ingests each part. Parts that are not
    readable DICOM are refused one by one; if none is readable, nothing was written and it is a 400."""
    content_type = request["content_type"]
    for index, part in enumerate(multipart.iter_parts(dicom_store.read_chunks(key), content_type), start=1):
        if part.content_type not in ("application/dicom", ""):
            raise UnsupportedMediaType(f"part {index} is {part.content_type}; expected application/dicom")
    ingest = Ingest(principal, request["album_id"], request["study_uid"])
    readable = 0
    for part in multipart.iter_parts(dicom_store.read_chunks(key), content_type):
        try:
            instance = parse(part.body)
        except BadRequest as refusal:
            ingest.result.failed.append(Failed("", "", CANNOT_UNDERSTAND, refusal.detail))
            continue
        readable += 1
        ingest.add_all([instance])
    if not readable:
        raise BadRequest(f"no part is a readable DICOM object: {ingest.result.failed[0].comment}")
    return ingest.finish()


def result(principal: Principal, upload_id: str) -> dict | None:
    """The STOW answer when ingest has finished, None while it runs; 404 for someone else's."""
    _own_request(principal, upload_id)
    if dicom_store.head(dicom_store.upload_result_key(upload_id)) is None:
        return None
    return json.loads(dicom_store.read(dicom_store.upload_result_key(upload_id)))


def upload_id_of(key: str) -> str | None:
    """`uploads/{id}/body` -> id."""
    parts = key.split("/")
    return parts[1] if len(parts) == 3 and parts[0] == "uploads" and parts[2] == "body" else None
