"""STOW-RS request bodies and responses (PS3.18 10.5): the instances a body carries, as Part-10
bytes, and the DICOM JSON answer with ReferencedSOPSequence and FailedSOPSequence."""
from __future__ import annotations

import io
import json

from chalicelib.dicom import multipart
from chalicelib.dicom.json_model import element
from chalicelib.errors import BadRequest, UnsupportedMediaType

CONTENT_TYPES = ["multipart/related", "application/dicom"]
DICOM_JSON = "application/dicom+json"


def instances(content_type: str, body: bytes) -> list[bytes]:
    """Part-10 objects of a STOW body: a bare application/dicom body, multipart/related of
    application/dicom parts, or DICOM JSON metadata parts with bulk-data parts."""
    kind, _ = multipart.media_type(content_type)
    if not body:
        raise BadRequest("empty request body")
    if kind == "application/dicom":
        return [body]
    parts = multipart.parse(body, content_type)
    kinds = {part.content_type for part in parts}
    if DICOM_JSON in kinds:
        return _from_metadata(parts)
    for index, part in enumerate(parts, start=1):
        if part.content_type not in ("application/dicom", ""):
            raise UnsupportedMediaType(f"part {index} is {part.content_type}; expected application/dicom")
    return [part.body for part in parts]


def _from_metadata(parts: list[multipart.Part]) -> list[bytes]:
    """Datasets from `application/dicom+json` parts; BulkDataURIs resolve to the parts whose
    Content-Location names them."""
    bulk = {p.headers.get("content-location", ""): p for p in parts if p.content_type != DICOM_JSON}
    bulk.pop("", None)
    out: list[bytes] = []
    for part in (p for p in parts if p.content_type == DICOM_JSON):
        try:
            documents = json.loads(part.body)
        except ValueError as error:
            raise BadRequest(f"a DICOM JSON part is not valid JSON: {error}") from error
        for document in documents if isinstance(documents, list) else [documents]:
            out.append(_part10_of(document, bulk))
    return out


def _part10_of(document: dict, bulk: dict[str, multipart.Part]) -> bytes:
    syntaxes: list[str] = []

    def resolve(_tag: str, _vr: str, uri: str) -> bytes:
        if uri not in bulk:
            raise BadRequest(f"BulkDataURI {uri} names no part of the request")
        syntax = multipart.media_type(bulk[uri].headers.get("content-type", ""))[1].get("transfer-syntax")
        if syntax:
            syntaxes.append(syntax)
        return bulk[uri].body

    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    try:
        dataset = Dataset.from_json(document, bulk_data_uri_handler=resolve)
    except BadRequest:
        raise
    except Exception as error:  # noqa: BLE001 - pydicom raises many kinds for bad JSON
        raise BadRequest(f"a DICOM JSON dataset cannot be read: {error}") from error
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = dataset.get("SOPClassUID", "")
    meta.MediaStorageSOPInstanceUID = dataset.get("SOPInstanceUID", "")
    meta.TransferSyntaxUID = syntaxes[0] if syntaxes else ExplicitVRLittleEndian
    dataset.file_meta = meta
    buffer = io.BytesIO()
    try:
        pydicom.dcmwrite(buffer, dataset, enforce_file_format=True)
    except Exception as error:  # noqa: BLE001
        raise BadRequest(f"a DICOM JSON dataset cannot be stored: {error}") from error
    return buffer.getvalue()


def response_document(result, url: str) -> dict:
    """The STOW-RS answer for an ingest result (`stored`, `failed`)."""
    body: dict = {}
    studies = {s.study_uid for s in result.stored}
    if len(studies) == 1:
        body["00081190"] = element("UR", f"{url}/studies/{studies.pop()}")
    if result.stored:
        body["00081199"] = element("SQ", *[_referenced_item(s, url) for s in result.stored])
    if result.failed:
        body["00081198"] = element("SQ", *[_failed_item(f) for f in result.failed])
    return body


COERCION_OF_DATA_ELEMENTS = 0xB000


def _referenced_item(stored, url: str) -> dict:
    """A stored instance; Warning Reason 0xB000 when study-level attributes it lacked were set
    to the stored study's (`stored.coerced`)."""
    item = {
        "00081150": element("UI", stored.sop_class_uid),
        "00081155": element("UI", stored.sop_uid),
        "00081190": element("UR", f"{url}/studies/{stored.study_uid}/series/{stored.series_uid}/instances/{stored.sop_uid}"),
    }
    if getattr(stored, "coerced", None):
        item["00081196"] = element("US", COERCION_OF_DATA_ELEMENTS)
    return dict(sorted(item.items()))


def _failed_item(failure) -> dict:
    item = {"00081197": element("US", failure.reason), "00000902": element("LO", failure.comment[:64])}
    if failure.sop_uid:
        item["00081150"] = element("UI", failure.sop_class_uid)
        item["00081155"] = element("UI", failure.sop_uid)
    if failure.tags:
        item["00001005"] = element("AT", *failure.tags)
    return item


def status_of(result) -> int:
    """200 all stored as sent, 202 some or with warnings (coercion), 409 none."""
    if result.failed:
        return 202 if result.stored else 409
    return 202 if any(getattr(s, "coerced", None) for s in result.stored) else 200
