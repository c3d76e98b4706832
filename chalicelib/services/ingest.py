"""Ingest: the one path by which instances enter Obelisk (STOW-RS now, large uploads later).

An instance becomes visible only once its bytes, renditions and index rows are all written: S3
objects first, then one DynamoDB transaction (instance, series, study, share). A failed
transaction removes the objects it wrote. Ingest is idempotent per SOP Instance UID."""
from __future__ import annotations

import io
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pynamodb.exceptions import TransactWriteError

from chalicelib import clock
from chalicelib.auth import policy
from chalicelib.auth.principals import Principal
from chalicelib.dicom import frames, json_model, stow
from chalicelib.dicom.uids import is_valid_uid
from chalicelib.errors import BadRequest
from chalicelib.events import mutations
from chalicelib.services import renditions
from chalicelib.store import dicom_store, listing, shares
from chalicelib.store.models import Album, InstanceRecord, SeriesRecord, SeriesShare, StudyRecord, transact

if TYPE_CHECKING:
    import pydicom

# PS3.4 / PS3.18 failure reasons used in FailedSOPSequence.
PROCESSING_FAILURE = 0x0110
NOT_AUTHORIZED = 0x0124
INVALID_ATTRIBUTE_VALUE = 0x0106
CANNOT_UNDERSTAND = 0xC000
STUDY_UID_MISMATCH = 0xC409  # as dcm4chee answers it

COMMIT_ATTEMPTS = 4

# Attributes an instance must agree on with the study it joins.
STUDY_IDENTITY_KEYWORDS = ("PatientID", "PatientName", "PatientBirthDate", "PatientSex",
                           "StudyDate", "AccessionNumber", "StudyID")


@dataclass
class Stored:
    study_uid: str
    series_uid: str
    sop_uid: str
    sop_class_uid: str
    new_in_album: bool = False
    created: bool = False


@dataclass
class Failed:
    sop_uid: str
    sop_class_uid: str
    reason: int
    comment: str
    tags: list[str] = field(default_factory=list)


@dataclass
class IngestResult:
    album_id: str
    stored: list[Stored] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)


def read_part10(data: bytes) -> pydicom.Dataset:
    """Parses a Part-10 object, refusing anything truncated or without the UIDs ingest needs.
    Parsing has no side effects, so whatever pydicom raises on a malformed object (ValueError,
    NotImplementedError for an unknown VR, struct.error, ...) is the caller's 400."""
    import pydicom

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message="End of file reached")
            dataset = pydicom.dcmread(io.BytesIO(data), force=False)
        if _truncated(dataset):
            raise BadRequest("the object is truncated: an element is shorter than its declared length")
        for _element in dataset.iterall():
            pass  # converts every raw element: sequences cut short fail here
        json_model.to_json(dataset)  # values DICOM JSON cannot carry (a DS of '\x0080.0') fail here
        for _frame in frames.frames(dataset):
            pass  # a pixel module frames cannot be cut from (no Rows, no transfer syntax) fails here
        for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID"):
            if not is_valid_uid(str(dataset.get(keyword, ""))):
                raise BadRequest(f"{keyword} missing or not a valid UID")
    except BadRequest:
        raise
    except Exception as error:  # noqa: BLE001 - see the docstring
        raise BadRequest(f"not a readable DICOM Part-10 object: {error}") from error
    return dataset


def _truncated(dataset: pydicom.Dataset) -> bool:
    """pydicom reads a short final element without complaint: compare each top-level raw value
    with its declared length."""
    for tag in dataset.keys():
        raw = dataset.get_item(tag)
        length, value = getattr(raw, "length", None), getattr(raw, "value", None)
        if isinstance(value, bytes) and length not in (None, 0xFFFFFFFF) and len(value) < length:
            return True
    return False


class Ingest:
    """One STOW request's worth of instances, with per-request caches of what it looked up."""

    def __init__(self, principal: Principal, album_id: str | None, study_uid: str | None = None):
        self.principal = principal
        self.album_id = policy.series_add_target(principal, album_id)
        self.expected_study = study_uid
        self.result = IngestResult(album_id=self.album_id)
        self._series_allowed: dict[tuple[str, str], bool] = {}
        self._studies: dict[str, dict | None] = {}
        self._already_in_album: dict[tuple[str, str], bool] = {}
        self._new_in_album: dict[str, bool] = {}

    def add(self, data: bytes, dataset: pydicom.Dataset | None = None) -> None:
        dataset = dataset if dataset is not None else read_part10(data)
        study, series = str(dataset.StudyInstanceUID), str(dataset.SeriesInstanceUID)
        sop, sop_class = str(dataset.SOPInstanceUID), str(dataset.SOPClassUID)
        failure = self._refusal(dataset, study, series)
        if failure:
            reason, comment, tags = failure
            self.result.failed.append(Failed(sop, sop_class, reason, comment, tags))
            return
        try:
            stored = self._write(dataset, data)
        except TransactWriteError as error:
            self.result.failed.append(Failed(sop, sop_class, PROCESSING_FAILURE, f"index write failed: {error}"))
            return
        self.result.stored.append(stored)

    def _refusal(self, dataset, study: str, series: str) -> tuple[int, str, list[str]] | None:
        if self.expected_study and study != self.expected_study:
            return STUDY_UID_MISMATCH, "StudyInstanceUID differs from the study in the request URL", []
        key = (study, series)
        if key not in self._series_allowed:
            self._series_allowed[key] = policy.may_add_to_series(self.principal, study, series)
        if not self._series_allowed[key]:
            return NOT_AUTHORIZED, "the series exists and you have no access to it", []
        existing = self._study_attributes(study)
        if existing is not None:
            incoming = json_model.to_json(dataset)
            conflicts = [
                json_model.tag_hex(k) for k in STUDY_IDENTITY_KEYWORDS
                if json_model.text_value(existing, k) != json_model.text_value(incoming, k)
            ]
            if conflicts:
                names = ", ".join(json_model.keyword_of(t) for t in conflicts)
                return INVALID_ATTRIBUTE_VALUE, f"conflicts with the stored study: {names}", conflicts
        return None

    def _study_attributes(self, study: str) -> dict | None:
        if study not in self._studies:
            try:
                self._studies[study] = StudyRecord.get(*StudyRecord.key(study)).attributes
            except StudyRecord.DoesNotExist:
                self._studies[study] = None
        return self._studies[study]

    def _write(self, dataset, data: bytes) -> Stored:
        study, series = str(dataset.StudyInstanceUID), str(dataset.SeriesInstanceUID)
        sop, sop_class = str(dataset.SOPInstanceUID), str(dataset.SOPClassUID)
        stored = Stored(study, series, sop, sop_class)
        if _instance_exists(study, series, sop):
            self._remember_album_state(study, series)
            stored.new_in_album = self._share(study, series, str(dataset.get("Modality", "")))
            return stored  # idempotent: already stored
        transfer_syntax = str(dataset.file_meta.TransferSyntaxUID)
        self._remember_album_state(study, series)
        try:
            dicom_store.put_instance(study, series, sop, transfer_syntax, data)
            renditions.write_instance_renditions(dataset, transfer_syntax)
        except Exception:
            dicom_store.delete_objects(dicom_store.instance_keys(study, series, sop))
            raise
        attributes = json_model.to_json(dataset)
        moment = clock.local_iso()
        for attempt in range(COMMIT_ATTEMPTS):
            try:
                self._commit(dataset, data, transfer_syntax, attributes, moment)
                break
            except TransactWriteError as error:
                if _instance_exists(study, series, sop):
                    return stored  # a concurrent request stored the same instance first
                guessed_new = self._study_is_new(study)
                self._new_in_album[study] = listing.row(self.album_id, study) is None
                if attempt + 1 < COMMIT_ATTEMPTS and self._new_in_album[study] != guessed_new:
                    continue  # another request listed the study in the album first, or removed it
                if attempt + 1 < COMMIT_ATTEMPTS and "TransactionConflict" in str(error.cause):
                    time.sleep(0.05 * 2 ** attempt)  # another STOW updated the same series or study
                    continue
                dicom_store.delete_objects(dicom_store.instance_keys(study, series, sop))
                raise
        self._studies.setdefault(study, json_model.subset(attributes, json_model.PATIENT_STUDY_KEYWORDS))
        self._new_in_album[study] = False
        stored.new_in_album = stored.created = True
        return stored

    def _commit(self, dataset, data: bytes, transfer_syntax: str, attributes: dict, moment: str) -> None:
        """One transaction: the instance (if absent), series and study rows, the album share."""
        study, series = str(dataset.StudyInstanceUID), str(dataset.SeriesInstanceUID)
        sop, sop_class = str(dataset.SOPInstanceUID), str(dataset.SOPClassUID)
        share_key = SeriesShare.key(self.album_id, study, series)
        with transact() as transaction:
            transaction.save(
                InstanceRecord(
                    *InstanceRecord.key(study, series, sop), study_uid=study, series_uid=series,
                    sop_uid=sop, sop_class_uid=sop_class, transfer_syntax_uid=transfer_syntax,
                    attributes=json_model.indexable(attributes),
                    size=len(data), number_of_frames=int(dataset.get("NumberOfFrames", 1) or 1),
                    stored_at=moment,
                ),
                condition=InstanceRecord.pk.does_not_exist(),
            )
            transaction.update(
                SeriesRecord(*SeriesRecord.key(study, series)),
                actions=[
                    SeriesRecord.study_uid.set(study),
                    SeriesRecord.series_uid.set(series),
                    SeriesRecord.attributes.set(SeriesRecord.attributes | json_model.subset(attributes, json_model.SERIES_KEYWORDS)),
                    SeriesRecord.instance_count.add(1),
                ],
            )
            transaction.update(
                StudyRecord(*StudyRecord.key(study)),
                actions=[
                    StudyRecord.study_uid.set(study),
                    StudyRecord.attributes.set(StudyRecord.attributes | json_model.subset(attributes, json_model.PATIENT_STUDY_KEYWORDS)),
                    StudyRecord.created_at.set(StudyRecord.created_at | moment),
                ],
            )
            transaction.update(
                SeriesShare(*share_key),
                actions=[
                    SeriesShare.album_id.set(self.album_id),
                    SeriesShare.study_uid.set(study),
                    SeriesShare.series_uid.set(series),
                    SeriesShare.series_album.set(f"{series}#{self.album_id}"),
                    SeriesShare.added_at.set(SeriesShare.added_at | moment),
                ],
            )
            listing.add(transaction, self.album_id, study, series, self._study_attributes(study) or attributes,
                        json_model.text_value(attributes, "Modality"), self._study_is_new(study))

    def _study_is_new(self, study: str) -> bool:
        """Whether the target album holds nothing of the study yet (read once per request)."""
        if study not in self._new_in_album:
            self._new_in_album[study] = listing.row(self.album_id, study) is None
        return self._new_in_album[study]

    def _remember_album_state(self, study: str, series: str) -> None:
        """Notes, once per request, whether the target album held the series before it."""
        key = (study, series)
        if key not in self._already_in_album:
            try:
                SeriesShare.get(*SeriesShare.key(self.album_id, study, series))
                self._already_in_album[key] = True
            except SeriesShare.DoesNotExist:
                self._already_in_album[key] = False

    def finish(self) -> IngestResult:
        """After the last instance: series objects for the series this request brought most of
        (`renditions.worth_prebuilding`), the others queued for the renditions function; then
        one import event per study touched (not for the inbox)."""
        grown: dict[tuple[str, str], int] = {}
        for stored in self.result.stored:
            if stored.new_in_album:
                grown[(stored.study_uid, stored.series_uid)] = grown.get((stored.study_uid, stored.series_uid), 0) + 1
        created = Counter((s.study_uid, s.series_uid) for s in self.result.stored if s.created)
        for (study, series), count in sorted(created.items()):
            size = renditions.series_count(study, series)
            if renditions.worth_prebuilding(count, size):
                renditions.build_series_objects(study, series)
            else:
                renditions.schedule_build(study, series, size)
        if grown and not _is_inbox(self.album_id):
            for study in sorted({study for study, _ in grown}):
                counts = {series: n for (st, series), n in grown.items() if st == study}
                new_series = {se for se in counts if not self._already_in_album.get((study, se), False)}
                mutations.import_series(self.album_id, self.principal, study, counts, new_series, "upload")
        return self.result

    def _share(self, study: str, series: str, modality: str) -> bool:
        """Puts an already-stored series into the target album; True when it was not there."""
        added = shares.add_series(self.album_id, study, series, self._study_attributes(study) or {}, modality)
        self._new_in_album[study] = False
        return added


def store_body(principal: Principal, album_id: str | None, study_uid: str | None, content_type: str,
               body: bytes) -> IngestResult:
    """The whole STOW: every part is parsed before anything is written, so a malformed body
    (bad multipart, wrong boundary, empty, nothing readable) is refused with no residue."""
    parts = stow.instances(content_type, body)
    ingest = Ingest(principal, album_id, study_uid)
    readable: list[tuple[bytes, pydicom.Dataset]] = []
    for data in parts:
        try:
            readable.append((data, read_part10(data)))
        except BadRequest as refusal:
            ingest.result.failed.append(Failed("", "", CANNOT_UNDERSTAND, refusal.detail))
    if not readable:
        reason = ingest.result.failed[0].comment
        raise BadRequest(reason if len(parts) == 1 else f"no part is a readable DICOM object: {reason}")
    for data, dataset in readable:
        ingest.add(data, dataset)
    return ingest.finish()


def _is_inbox(album_id: str) -> bool:
    try:
        return bool(Album.get(*Album.key(album_id)).is_inbox)
    except Album.DoesNotExist:
        return False


def _instance_exists(study: str, series: str, sop: str) -> bool:
    try:
        InstanceRecord.get(*InstanceRecord.key(study, series, sop))
        return True
    except InstanceRecord.DoesNotExist:
        return False
