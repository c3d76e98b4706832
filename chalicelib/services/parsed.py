"""One instance as ingest receives it, parsed once: its Part-10 bytes, the dataset, its metadata
document (DICOM JSON with BulkDataURIs, `json_model.metadata`) converted once, its frames cut once
and its UIDs. Every later step of ingest (the checks, the index rows, the stored objects, the
series metadata) reads this value instead of converting or cutting again. The document is not
stored: a read converts the stored bytes again the same way (`document_of`)."""
from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING

from chalicelib.config import settings
from chalicelib.dicom import frames, integrity, json_model
from chalicelib.dicom.limits import check_inflated_size, check_pixel_geometry
from chalicelib.dicom.uids import has_uid_form
from chalicelib.errors import BadRequest, PayloadTooLarge

if TYPE_CHECKING:
    import pydicom

UID_KEYWORDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID")


@dataclass(frozen=True)
class ParsedInstance:
    """An instance parsed once. `attributes` are the document's top-level elements but its bulk
    ones (what the checks and the index rows read), an independent copy: nothing written to the
    index shares a value with the stored document. `frames` are the pixel data's frames as stored
    (`frames.frames`). The dataset is pydicom's; only coercion changes it, and then a new value
    is made (`coerced`)."""
    data: bytes
    dataset: pydicom.Dataset
    document: dict
    attributes: dict
    frames: tuple[bytes, ...]
    study_uid: str
    series_uid: str
    sop_uid: str
    sop_class_uid: str

    @property
    def uids(self) -> tuple[str, str, str, str]:
        return self.study_uid, self.series_uid, self.sop_uid, self.sop_class_uid

    @property
    def key(self) -> tuple[str, str, str]:
        """(study, series, SOP instance): what identifies the instance in the store."""
        return self.study_uid, self.series_uid, self.sop_uid

    @cached_property
    def indexed(self) -> dict:
        """What the instance's index row keeps of `attributes` (`json_model.indexable`), made once:
        the transaction's size estimate and the row read it (a coerced instance is a new value)."""
        return json_model.indexable(self.attributes)

    @property
    def transfer_syntax(self) -> str:
        return str(self.dataset.file_meta.TransferSyntaxUID)

    def coerced(self, attributes: dict) -> ParsedInstance:
        """After coercion changed the dataset (`attributes`: its DICOM JSON then): its bytes
        encoded again in its own transfer syntax, then its document converted from those bytes
        (`document_of`), as a read derives it from the stored ones: writing drops what the dataset
        held but the file does not (group lengths, whose values coercion made stale); the frames
        are unchanged."""
        data = _encoded(self.dataset)
        return replace(self, data=data, document=document_of(data), attributes=attributes)


def read_part10(data: bytes) -> pydicom.Dataset:
    """The dataset of `parse` (its checks and refusals)."""
    return parse(data).dataset


def parse(data: bytes) -> ParsedInstance:
    """Parses a Part-10 object once, refusing anything truncated or without the UIDs ingest needs.
    Parsing has no side effects, so whatever pydicom raises on a malformed object (ValueError,
    NotImplementedError for an unknown VR, struct.error, ...) is the caller's 400. An object that
    would inflate or decode beyond `limits.decoded_bound` is refused (413) before it is."""
    import pydicom

    check_inflated_size(data)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message="End of file reached")
            dataset = pydicom.dcmread(io.BytesIO(data), force=False)
        if integrity.truncated(dataset):
            raise BadRequest("the object is truncated: an element is shorter than its declared length")
        if integrity.overrunning_item(dataset):
            raise BadRequest("the object is malformed: a sequence item runs past the end of its sequence")
        check_pixel_geometry(dataset)
        # converts every raw element, sequence items included: sequences cut short and values
        # DICOM JSON cannot carry (a DS of '\x0080.0') fail here
        document = _document(dataset)
        cut = tuple(frames.frames(dataset))  # a pixel module frames cannot be cut from fails here
        for keyword in UID_KEYWORDS:  # a UID too long to key is refused per instance (`Ingest`)
            if not has_uid_form(str(dataset.get(keyword, ""))):
                raise BadRequest(f"{keyword} missing or not a valid UID")
    except (BadRequest, PayloadTooLarge):
        raise
    except Exception as error:  # noqa: BLE001 - see the docstring
        raise BadRequest(f"not a readable DICOM Part-10 object: {error}") from error
    return _parsed(data, dataset, document, cut)


def of_dataset(data: bytes, dataset: pydicom.Dataset) -> ParsedInstance:
    """An instance its caller made and checked itself (a report, a research copy): converted and
    cut as `parse` does, without the checks."""
    return _parsed(data, dataset, _document(dataset), tuple(frames.frames(dataset)))


def _parsed(data: bytes, dataset: pydicom.Dataset, document: dict, cut: tuple[bytes, ...]) -> ParsedInstance:
    study, series, sop, sop_class = (str(dataset.get(k, "")) for k in UID_KEYWORDS)
    return ParsedInstance(data, dataset, document, without_bulk(document), cut, study, series, sop, sop_class)


def without_bulk(document: dict) -> dict:
    """A document's top-level elements but those given as BulkDataURIs (what `json_model.to_json`
    gives without a bulk data handler), as a copy sharing no value with the document."""
    return json.loads(json.dumps({tag: value for tag, value in document.items() if "BulkDataURI" not in value}))


def document_of(data: bytes) -> dict:
    """The metadata document of Part-10 bytes as stored, converted as ingest converts a received
    instance's (`_document`): what the instance's derived metadata object holds (`renditions`)."""
    import pydicom

    return _document(pydicom.dcmread(io.BytesIO(data)))


def canonical_instance_url(study: str, series: str, sop: str) -> str:
    """The instance's URL on the API, which its document's BulkDataURIs start with (a read through
    another base URL rewrites it: `retrieve`)."""
    return f"{settings().api_url}/studies/{study}/series/{series}/instances/{sop}"


def _document(dataset: pydicom.Dataset) -> dict:
    """The instance's WADO-RS metadata document (`json_model.metadata`)."""
    study, series, sop = (str(dataset.get(k, "")) for k in UID_KEYWORDS[:3])
    return json_model.metadata(dataset, canonical_instance_url(study, series, sop))


def _encoded(dataset: pydicom.Dataset) -> bytes:
    """The Part-10 bytes of a dataset changed by coercion, in its own transfer syntax."""
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
