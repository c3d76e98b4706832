"""WADO-RS and WADO-URI: authorize a read, then point the client at an S3 object (a presigned URL)
or, for small answers (metadata, frame lists, rendered images), hand the bytes over inline.
Nothing larger than `INLINE_LIMIT` is ever returned through the function."""
from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.auth import policy
from chalicelib.auth.principals import Principal
from chalicelib.config import settings
from chalicelib.dicom import frames as frame_syntax
from chalicelib.dicom import negotiation, render
from chalicelib.errors import BadQueryParameter, NotAcceptable, NotFound
from chalicelib.events import audit
from chalicelib.services import renditions
from chalicelib.store import dicom_store
from chalicelib.store.items import get_or_none
from chalicelib.store.models import InstanceRecord

EVERYWHERE = policy.Source()
INLINE_LIMIT = 5 * 1024 * 1024  # text answers (metadata)
INLINE_IMAGE_LIMIT = 1_000_000  # rendered images; 0 pixel bytes through the function above 1 MB (docs/storage.md)
DICOM_JSON = "application/dicom+json"


@dataclass
class Answer:
    """Either a `location` to redirect to, or a `body` with its content type; `etag` for metadata."""

    location: str | None = None
    body: bytes | None = None
    content_type: str = ""
    etag: str | None = None
    not_modified: bool = False


def _read_series(principal: Principal, study: str, series: str, source: policy.Source) -> None:
    """Authorizes a series read and records it in the granting albums' audit trail."""
    audit.record_read(principal, study, series, policy.authorize_series_read(principal, study, series, source))


def _read_study(principal: Principal, study: str, source: policy.Source) -> dict:
    visible = policy.authorize_study_read(principal, study, source)
    _audit_reads(principal, study, visible)
    return visible


def _audit_reads(principal: Principal, study: str, visible: dict) -> None:
    for series, held in visible.items():
        audit.record_read(principal, study, series, sorted({s.album_id for s in held}))


def instance_record(principal: Principal, study: str, series: str, sop: str,
                    source: policy.Source = EVERYWHERE) -> InstanceRecord:
    _read_series(principal, study, series, source)
    record = get_or_none(InstanceRecord, InstanceRecord.key(study, series, sop))
    if record is None:
        raise NotFound("Instance does not exist or you don't have access", message="Instance Not Found")
    return record


def instance_location(principal: Principal, study: str, series: str, sop: str,
                      source: policy.Source = EVERYWHERE, accepted=None) -> str:
    """A short-lived URL of the instance's multipart/related rendition."""
    record = instance_record(principal, study, series, sop, source)
    negotiation.dicom_retrieval(accepted or negotiation.ranges(None), {record.transfer_syntax_uid})
    return dicom_store.presigned_get(renditions.instance_multipart_object(record))


def series_location(principal: Principal, study: str, series: str, source: policy.Source, accepted) -> str:
    _read_series(principal, study, series, source)
    syntaxes = {r.transfer_syntax_uid for r in renditions.series_instances(study, series)}
    negotiation.dicom_retrieval(accepted, syntaxes)
    return dicom_store.presigned_get(renditions.series_object(study, series, "instances"))


def study_location(principal: Principal, study: str, source: policy.Source, accepted) -> str:
    """The study's visible series as one multipart/related object, or as a zip."""
    shares_of = policy.authorize_study_read(principal, study, source)
    visible = sorted(shares_of)
    syntaxes = {r.transfer_syntax_uid for s in visible for r in renditions.series_instances(study, s)}
    if negotiation.dicom_retrieval(accepted, syntaxes, allow_zip=True) == "zip":
        included = policy.downloadable_series(principal, study, shares_of, source)
        _audit_reads(principal, study, {s: shares_of[s] for s in included})
        return dicom_store.presigned_get(
            renditions.zip_object(study, included),
            ResponseContentDisposition='attachment; filename="DICOM.ZIP"',
        )
    _audit_reads(principal, study, shares_of)
    return dicom_store.presigned_get(renditions.study_multipart_object(study, visible))


# ---- metadata --------------------------------------------------------------------------------


def _rewrite(body: bytes, base_url: str) -> bytes:
    """Stored metadata names the canonical API; capability URLs keep their `/link/{token}`."""
    canonical = settings().api_url
    if base_url == canonical:
        return body
    return body.replace(f'"{canonical}/studies/'.encode(), f'"{base_url}/studies/'.encode())


def _stored_json(key: str, base_url: str, if_none_match: str | None, build: Callable[[], None] | None = None) -> Answer:
    """The stored DICOM JSON at `key`, inline or by redirect; `build` writes it when it is missing."""
    headers = dicom_store.head(key)
    if headers is None and build is not None:
        build()
        headers = dicom_store.head(key)
    if headers is None:
        raise NotFound("metadata is not available", message="Instance Not Found")
    etag = headers["ETag"]
    if if_none_match and etag in [t.strip() for t in if_none_match.split(",")]:
        return Answer(etag=etag, not_modified=True)
    if headers["ContentLength"] > INLINE_LIMIT:
        return Answer(location=dicom_store.presigned_get(key), etag=etag)
    body = dicom_store.read_decoded(key)
    if len(body) > INLINE_LIMIT:  # stored gzipped, larger once decoded
        return Answer(location=dicom_store.presigned_get(key), etag=etag)
    return Answer(body=_rewrite(body, base_url), content_type=DICOM_JSON, etag=etag)


def instance_metadata(principal: Principal, study: str, series: str, sop: str, source: policy.Source,
                      base_url: str, if_none_match: str | None) -> Answer:
    record = instance_record(principal, study, series, sop, source)
    return _stored_json(renditions.instance_metadata_key(record), base_url, if_none_match,
                        build=lambda: renditions.write_instance_metadata(record))


def series_metadata(principal: Principal, study: str, series: str, source: policy.Source,
                    base_url: str, if_none_match: str | None) -> Answer:
    _read_series(principal, study, series, source)
    return _stored_json(renditions.series_object(study, series, "metadata"), base_url, if_none_match)


def study_metadata(principal: Principal, study: str, source: policy.Source, base_url: str,
                   if_none_match: str | None) -> Answer:
    """The visible series' metadata arrays joined into one array; the ETag names the selection."""
    visible = sorted(_read_study(principal, study, source))
    etag = '"' + renditions.selection_name(study, visible, "") + '"'
    if if_none_match and etag in [t.strip() for t in if_none_match.split(",")]:
        return Answer(etag=etag, not_modified=True)
    arrays = [chunk.strip()[1:-1].strip() for chunk in renditions.study_metadata_documents(study, visible)]
    body = b"[" + b",".join(a for a in arrays if a) + b"]"
    if len(body) > INLINE_LIMIT:
        key = dicom_store.assembled_key(study, etag.strip('"') + ".json")
        dicom_store.put(key, body, DICOM_JSON)
        return Answer(location=dicom_store.presigned_get(key), etag=etag)
    return Answer(body=_rewrite(body, base_url), content_type=DICOM_JSON, etag=etag)


# ---- frames, bulk data, rendered -----------------------------------------------------------


def parse_frame_list(value: str) -> list[int]:
    try:
        numbers = [int(v) for v in value.split(",") if v.strip()]
    except ValueError as error:
        raise NotFound("frame numbers must be integers", message="Frame Not Found") from error
    if not numbers or min(numbers) < 1:
        raise NotFound("frame numbers start at 1", message="Frame Not Found")
    return numbers


def frames(principal: Principal, study: str, series: str, sop: str, frame_list: str,
           source: policy.Source, accepted) -> Answer:
    record = instance_record(principal, study, series, sop, source)
    syntax = frame_syntax.frame_transfer_syntax(record.transfer_syntax_uid)
    negotiation.frames_or_bulk(accepted, syntax)
    numbers = parse_frame_list(frame_list)
    keys = renditions.frame_objects(record, numbers) if max(numbers) <= int(record.number_of_frames) else None
    if keys is None:
        raise NotFound("the instance has no such frame", message="Frame Not Found")
    if len(numbers) == 1:
        return Answer(location=dicom_store.presigned_get(keys[0]))
    key = dicom_store.frames_key(study, series, sop, numbers, generation=record.generation)
    if dicom_store.head(key) is None:
        chunks = [_single_part(dicom_store.read(k)) for k in keys]
        body, content_type = dicom_store.octet_multipart(chunks, syntax)
        dicom_store.put(key, body, content_type)
    return Answer(location=dicom_store.presigned_get(key))


def _single_part(body: bytes) -> bytes:
    """The content of a one-part multipart object written by `dicom_store.octet_multipart`."""
    start = body.index(b"\r\n\r\n") + 4
    end = body.rindex(b"\r\n--" + dicom_store.FRAME_BOUNDARY.encode() + b"--")
    return body[start:end]


def bulkdata(principal: Principal, study: str, series: str, sop: str, path: str, source: policy.Source,
             accepted) -> Answer:
    record = instance_record(principal, study, series, sop, source)
    negotiation.frames_or_bulk(accepted, None)
    key = renditions.bulk_object(record, path.upper())
    if key is None:
        raise NotFound("the instance has no bulk data at this path", message="Bulk Data Not Found")
    return Answer(location=dicom_store.presigned_get(key))


def rendered(principal: Principal, study: str, series: str | None, sop: str | None, frame: int | None,
             source: policy.Source, accepted, window: tuple[float, float] | None = None,
             thumbnail: bool = False) -> Answer:
    """A rendered image of an instance, or of a series' / study's representative instance.
    JPEG of the first frame without a window is rendered by its first read and cached (a
    redirect); anything else is rendered now: inlined up to `INLINE_IMAGE_LIMIT`, else cached and
    redirected to."""
    media_type = negotiation.rendered(accepted)
    record = _representative(principal, study, series, sop, source)
    if frame is not None and frame > int(record.number_of_frames):
        raise NotFound("the instance has no such frame", message="Frame Not Found")
    kind = "thumbnail" if thumbnail else "rendered"
    stock = media_type == "image/jpeg" and window is None and frame in (None, 1)
    key = dicom_store.image_key(record.study_uid, record.series_uid, record.sop_uid, kind,
                                generation=record.generation) if stock else _image_key(record, kind, frame,
                                                                                        media_type, window)
    if dicom_store.head(key):  # the stock image or a large one, rendered before
        return Answer(location=dicom_store.presigned_get(key))
    import pydicom

    dataset = pydicom.dcmread(io.BytesIO(renditions.part10_bytes(record)))
    try:
        image = render.render(dataset, frame or 1, media_type, window,
                              render.THUMBNAIL_SIZE if thumbnail else None)
    except render.NotRenderable as error:
        raise NotAcceptable(f"this object cannot be rendered: {error}") from error
    if stock or len(image) > INLINE_IMAGE_LIMIT:  # (stock: its first read, or the cached image had expired)
        dicom_store.put(key, image, media_type)
        return Answer(location=dicom_store.presigned_get(key))
    return Answer(body=image, content_type=media_type)


def _image_key(record: InstanceRecord, kind: str, frame: int | None, media_type: str,
               window: tuple[float, float] | None) -> str:
    """Where an image rendered on request is cached when too large to inline."""
    name = hashlib.sha256(f"{kind}|{frame}|{media_type}|{window}".encode()).hexdigest()[:24]
    return dicom_store.cached(dicom_store.instance_prefix(record.study_uid, record.series_uid, record.sop_uid,
                                                          generation=record.generation) + f"images/{name}")


def _representative(principal: Principal, study: str, series: str | None, sop: str | None,
                    source: policy.Source) -> InstanceRecord:
    if sop is not None and series is not None:
        return instance_record(principal, study, series, sop, source)
    if series is not None:
        _read_series(principal, study, series, source)
        candidates = [series]
    else:
        candidates = sorted(_read_study(principal, study, source))
    for candidate in candidates:
        records = renditions.series_instances(study, candidate)
        if records:
            return records[len(records) // 2]
    raise NotFound("nothing to render", message="Instance Not Found")


def wado_uri(principal: Principal, study: str, series: str, sop: str | None, content_type: str | None,
             source: policy.Source) -> Answer:
    """WADO-URI (PS3.18 9): `application/dicom` gives the Part-10 file, images are rendered.
    Without `objectUID`, an image of the series' middle instance (as dcm4chee answers it)."""
    wanted = (content_type or "image/jpeg").split(";")[0].strip().lower()
    if sop is None and wanted not in ("image/jpeg", "image/png", "image/gif"):
        raise BadQueryParameter("objectUID is required unless an image of the series is asked for")
    if wanted in ("application/dicom", "*/*"):
        record = instance_record(principal, study, series, sop, source)
        return Answer(location=dicom_store.presigned_get(renditions.part10_object(record)))
    if wanted not in ("image/jpeg", "image/png", "image/gif"):
        raise NotAcceptable(f"WADO-URI cannot serve {wanted}")
    return rendered(principal, study, series, sop, None, source, negotiation.ranges(wanted))
