"""Large STOW uploads (past the gateway's 6 MB request limit): the client asks for an upload,
PUTs the multipart body to S3 with a presigned URL, the S3 event runs the same ingest through
the uploads queue, and the client polls for the STOW response (docs/dicomweb.md)."""
from __future__ import annotations

import json
from dataclasses import dataclass

from chalicelib import clock
from chalicelib.auth import policy
from chalicelib.auth.principals import Principal
from chalicelib.dicom import stow
from chalicelib.dicom.multipart import media_type
from chalicelib.dicom.uids import require_uid
from chalicelib.errors import BadRequest, NotFound, ObeliskError
from chalicelib.services.ingest import store_body
from chalicelib.store import dicom_store
from chalicelib.store.models import UserProfile


@dataclass
class Upload:
    upload_id: str
    upload_url: str
    content_type: str


def start(principal: Principal, album_id: str | None, study_uid: str | None, content_type: str) -> Upload:
    """Checks what can be checked now (write scope, album), records the request, presigns the PUT."""
    kind, params = media_type(content_type)
    if kind not in ("multipart/related", "application/dicom"):
        raise BadRequest("content_type must be multipart/related (with a boundary) or application/dicom")
    if kind == "multipart/related" and not params.get("boundary"):
        raise BadRequest("a multipart content_type needs its boundary")
    if study_uid is not None:
        require_uid(study_uid, "StudyInstanceUID")
    policy.series_add_target(principal, album_id)
    upload_id = clock.random_id(24)
    request = {"sub": principal.sub, "album_id": album_id, "study_uid": study_uid, "content_type": content_type,
               "created_at": clock.local_iso(), "principal": _principal_fields(principal)}
    dicom_store.put(f"uploads/{upload_id}/request.json", json.dumps(request).encode(), "application/json")
    return Upload(upload_id, dicom_store.presigned_put(dicom_store.upload_key(upload_id), content_type), content_type)


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
    body = dicom_store.read(dicom_store.upload_key(upload_id))
    try:
        result = store_body(_principal_of(request), request["album_id"], request["study_uid"],
                            request["content_type"], body)
        answer = {"status": stow.status_of(result), "body": stow.response_document(result, base_url)}
    except ObeliskError as error:
        answer = {"status": error.status, "body": {"message": error.message, "detail": error.detail}}
    dicom_store.put(dicom_store.upload_result_key(upload_id), json.dumps(answer).encode(), "application/json")
    dicom_store.delete_objects([dicom_store.upload_key(upload_id)])
    return answer


def result(principal: Principal, upload_id: str) -> dict | None:
    """The STOW answer when ingest has finished, None while it runs; 404 for someone else's."""
    request = _request(upload_id)
    if request["sub"] != principal.sub:
        raise NotFound("Upload does not exist or you don't have access", message="Upload Not Found")
    if dicom_store.head(dicom_store.upload_result_key(upload_id)) is None:
        return None
    return json.loads(dicom_store.read(dicom_store.upload_result_key(upload_id)))


def upload_id_of(key: str) -> str | None:
    """`uploads/{id}/body` -> id."""
    parts = key.split("/")
    return parts[1] if len(parts) == 3 and parts[0] == "uploads" and parts[2] == "body" else None
