"""Ingest: the one path by which instances enter Obelisk (STOW-RS now, large uploads later).

An instance becomes visible only once its bytes, renditions and index rows are all written: S3
objects first, then one DynamoDB transaction (instance, series, study, share). A failed
transaction removes the objects it wrote. Ingest is idempotent per SOP Instance UID. Each stored
instance's objects are named with a new generation (`dicom_store`), kept on its index row, and a
new series row gets one too: a series purged and stored again never reuses an object name."""
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
from chalicelib.dicom.limits import check_inflated_size, check_pixel_geometry
from chalicelib.dicom.uids import MAX_KEYABLE_LENGTH, has_uid_form, is_keyable_uid
from chalicelib.errors import BadRequest, PayloadTooLarge
from chalicelib.events import mutations
from chalicelib.services import renditions, research_intake
from chalicelib.store import dicom_store, identity, listing, research, shares
from chalicelib.store.models import Album, InstanceRecord, SeriesRecord, SeriesShare, StudyRecord, transact

if TYPE_CHECKING:
    import pydicom

# PS3.4 / PS3.18 failure reasons used in FailedSOPSequence.
PROCESSING_FAILURE = 0x0110
NOT_AUTHORIZED = 0x0124
INVALID_ATTRIBUTE_VALUE = 0x0106
CANNOT_UNDERSTAND = 0xC000
OUT_OF_RESOURCES = 0xA700
UID_KEYWORDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID")
STUDY_UID_MISMATCH = 0xC409  # as dcm4chee answers it

COMMIT_ATTEMPTS = 4

# Attributes an instance must agree on with the study it joins, when its sender reads the study.
STUDY_IDENTITY_KEYWORDS = ("PatientID", "PatientName", "PatientBirthDate", "PatientSex",
                           "StudyDate", "AccessionNumber", "StudyID")
# What an instance lacking them (or leaving them empty) gets from the study it joins, with warning
# 0xB000: the attributes it must agree on. Other study-level attributes are stored as sent.
COERCIBLE_KEYWORDS = STUDY_IDENTITY_KEYWORDS


@dataclass
class Stored:
    study_uid: str
    series_uid: str
    sop_uid: str
    sop_class_uid: str
    new_in_album: bool = False
    created: bool = False
    coerced: list[str] = field(default_factory=list)  # tags given the stored study's values


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
    NotImplementedError for an unknown VR, struct.error, ...) is the caller's 400. An object that
    would inflate or decode beyond `limits.decoded_bound` is refused (413) before it is."""
    import pydicom

    check_inflated_size(data)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message="End of file reached")
            dataset = pydicom.dcmread(io.BytesIO(data), force=False)
        if _truncated(dataset):
            raise BadRequest("the object is truncated: an element is shorter than its declared length")
        check_pixel_geometry(dataset)
        for _element in dataset.iterall():
            pass  # converts every raw element: sequences cut short fail here
        json_model.to_json(dataset)  # values DICOM JSON cannot carry (a DS of '\x0080.0') fail here
        for _frame in frames.frames(dataset):
            pass  # a pixel module frames cannot be cut from (no Rows, no transfer syntax) fails here
        for keyword in UID_KEYWORDS:  # a UID too long to key is refused per instance (`Ingest`)
            if not has_uid_form(str(dataset.get(keyword, ""))):
                raise BadRequest(f"{keyword} missing or not a valid UID")
    except (BadRequest, PayloadTooLarge):
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
        self._references: dict[str, dict | None] = {}  # study -> the identity its sender reads
        self._identities: dict[tuple[str, str], dict] = {}  # (study, series) -> stored identity
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
        coerced = self._coerce(dataset, self._reference(study, series))
        if coerced:
            data = _encoded(dataset)
        try:
            stored = self._write(dataset, data)
        except TransactWriteError as error:
            self.result.failed.append(Failed(sop, sop_class, PROCESSING_FAILURE, f"index write failed: {error}"))
            return
        stored.coerced = coerced if stored.created else []
        self.result.stored.append(stored)

    def _refusal(self, dataset, study: str, series: str) -> tuple[int, str, list[str]] | None:
        too_long = [k for k in UID_KEYWORDS if not is_keyable_uid(str(dataset.get(k, "")))]
        if too_long:
            return CANNOT_UNDERSTAND, f"{too_long[0]} longer than {MAX_KEYABLE_LENGTH} characters", []
        if self.expected_study and study != self.expected_study:
            return STUDY_UID_MISMATCH, "StudyInstanceUID differs from the study in the request URL", []
        key = (study, series)
        if key not in self._series_allowed:
            self._series_allowed[key] = policy.may_add_to_series(self.principal, study, series, self.album_id)
        if not self._series_allowed[key]:
            return NOT_AUTHORIZED, "the series exists and you have no access to it", []
        reference = self._reference(study, series)
        if reference is None:
            return None  # the sender reads nothing of the study: it is a new study to them
        incoming = json_model.to_json(dataset)
        conflicts = [
            json_model.tag_hex(k) for k in STUDY_IDENTITY_KEYWORDS
            if json_model.text_value(incoming, k) and json_model.text_value(incoming, k) != json_model.text_value(reference, k)
        ]
        if conflicts:
            names = ", ".join(json_model.keyword_of(t) for t in conflicts)
            return INVALID_ATTRIBUTE_VALUE, f"conflicts with the stored study: {names}", conflicts
        return None

    def _reference(self, study: str, series: str) -> dict | None:
        """The identity an instance is checked against: its series' when the sender reads it,
        else the study's as the sender reads it (`identity.of_study`); None when the sender reads
        no series of the study (semantics: a STOW then behaves as into a new study)."""
        if study not in self._references:
            readable = policy.readable_series(self.principal, study)
            self._identities.update(identity.read(study, readable) if readable else {})
            self._references[study] = identity.of_study(self._identities, study)
        return self._identities.get((study, series)) or self._references[study]

    @staticmethod
    def _coerce(dataset, reference: dict | None) -> list[str]:
        """Study-level attributes the instance lacks (or leaves empty) set to the stored study's,
        as PS3.18 coercion; the tags changed."""
        if not reference:
            return []
        incoming = json_model.to_json(dataset)
        missing = {tag: reference[tag] for tag in (json_model.tag_hex(k) for k in COERCIBLE_KEYWORDS)
                   if tag in reference and json_model.first_value(reference, tag) is not None
                   and json_model.first_value(incoming, tag) in (None, "")}
        if not missing:
            return []
        from pydicom import Dataset

        for coerced in Dataset.from_json(missing):
            dataset[coerced.tag] = coerced
        return sorted(missing)

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
        generation = dicom_store.new_generation()
        try:
            dicom_store.put_instance(study, series, sop, transfer_syntax, data, generation=generation,
                                     dataset=dataset)
            renditions.write_instance_renditions(dataset, transfer_syntax, generation)
        except Exception:
            dicom_store.delete_objects(dicom_store.instance_keys(study, series, sop, generation=generation))
            raise
        attributes = json_model.to_json(dataset)
        moment = clock.local_iso()
        for attempt in range(COMMIT_ATTEMPTS):
            try:
                self._commit(dataset, data, transfer_syntax, attributes, moment, generation)
                break
            except TransactWriteError as error:
                if _instance_exists(study, series, sop):
                    # a concurrent request stored the same instance first, under its own generation
                    dicom_store.delete_objects(dicom_store.instance_keys(study, series, sop, generation=generation))
                    return stored
                guessed_new = self._study_is_new(study)
                self._new_in_album[study] = listing.row(self.album_id, study) is None
                if attempt + 1 < COMMIT_ATTEMPTS and self._new_in_album[study] != guessed_new:
                    continue  # another request listed the study in the album first, or removed it
                if attempt + 1 < COMMIT_ATTEMPTS and "TransactionConflict" in str(error.cause):
                    time.sleep(0.05 * 2 ** attempt)  # another STOW updated the same series or study
                    continue
                dicom_store.delete_objects(dicom_store.instance_keys(study, series, sop, generation=generation))
                raise
        stored_identity = json_model.subset(attributes, json_model.PATIENT_STUDY_KEYWORDS)
        self._identities.setdefault((study, series), stored_identity)
        if self._references.get(study) is None:
            self._references[study] = self._identities[(study, series)]
        self._new_in_album[study] = False
        stored.new_in_album = stored.created = True
        return stored

    def _commit(self, dataset, data: bytes, transfer_syntax: str, attributes: dict, moment: str,
                generation: str) -> None:
        """One transaction: the instance (if absent), series and study rows, the album share. The
        series row keeps the generation it has (a new row takes a new one)."""
        study, series = str(dataset.StudyInstanceUID), str(dataset.SeriesInstanceUID)
        sop, sop_class = str(dataset.SOPInstanceUID), str(dataset.SOPClassUID)
        share_key = SeriesShare.key(self.album_id, study, series)
        series_identity = self._identities.get((study, series)) or json_model.subset(
            attributes, json_model.PATIENT_STUDY_KEYWORDS)
        with transact() as transaction:
            transaction.save(
                InstanceRecord(
                    *InstanceRecord.key(study, series, sop), study_uid=study, series_uid=series,
                    sop_uid=sop, sop_class_uid=sop_class, transfer_syntax_uid=transfer_syntax,
                    attributes=json_model.indexable(attributes),
                    size=len(data), number_of_frames=int(dataset.get("NumberOfFrames", 1) or 1),
                    stored_at=moment, generation=generation,
                ),
                condition=InstanceRecord.pk.does_not_exist(),
            )
            transaction.update(
                SeriesRecord(*SeriesRecord.key(study, series)),
                actions=[
                    SeriesRecord.study_uid.set(study),
                    SeriesRecord.series_uid.set(series),
                    SeriesRecord.attributes.set(SeriesRecord.attributes | json_model.subset(attributes, json_model.SERIES_KEYWORDS)),
                    SeriesRecord.study_attributes.set(SeriesRecord.study_attributes | series_identity),
                    SeriesRecord.instance_count.add(1),
                    SeriesRecord.generation.set(SeriesRecord.generation | dicom_store.new_generation()),
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
            listing.add(transaction, self.album_id, study, series, series_identity,
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
            size = int(renditions.series_record(study, series).instance_count)
            if renditions.worth_prebuilding(count, size):
                renditions.build_series_objects(study, series)
            else:
                renditions.schedule_build(study, series, size)
        if grown and research.is_intake(self.album_id):  # a research album's: copies, then events
            for study in sorted({study for study, _ in grown}):
                research_intake.queue_copies(self.album_id, self.principal, study, {se for st, se in grown if st == study})
        elif grown and not _is_inbox(self.album_id):
            for study in sorted({study for study, _ in grown}):
                counts = {series: n for (st, series), n in grown.items() if st == study}
                new_series = {se for se in counts if not self._already_in_album.get((study, se), False)}
                mutations.import_series(self.album_id, self.principal, study, counts, new_series, "upload")
        return self.result

    def _share(self, study: str, series: str, modality: str) -> bool:
        """Puts an already-stored series into the target album; True when it was not there."""
        if (study, series) not in self._identities:
            self._identities.update(identity.read(study, [series]))
        added = shares.add_series(self.album_id, study, series, self._identities.get((study, series), {}), modality)
        self._new_in_album[study] = False
        return added


def store_body(principal: Principal, album_id: str | None, study_uid: str | None, content_type: str,
               body: bytes) -> IngestResult:
    """The whole STOW: every part is parsed before anything is written, so a malformed body
    (bad multipart, wrong boundary, empty, nothing readable) is refused with no residue."""
    parts = stow.instances(content_type, body)
    ingest = Ingest(principal, album_id, study_uid)
    readable: list[tuple[bytes, pydicom.Dataset]] = []
    too_large: list[PayloadTooLarge] = []
    for data in parts:
        try:
            readable.append((data, read_part10(data)))
        except BadRequest as refusal:
            ingest.result.failed.append(Failed("", "", CANNOT_UNDERSTAND, refusal.detail))
        except PayloadTooLarge as refusal:
            too_large.append(refusal)
            ingest.result.failed.append(Failed("", "", OUT_OF_RESOURCES, refusal.detail))
    if not readable:
        reason = ingest.result.failed[0].comment
        if len(too_large) == len(parts):
            raise PayloadTooLarge(reason if len(parts) == 1 else f"every part is too large to decode: {reason}")
        raise BadRequest(reason if len(parts) == 1 else f"no part is a readable DICOM object: {reason}")
    for data, dataset in readable:
        ingest.add(data, dataset)
    return ingest.finish()


def _encoded(dataset: pydicom.Dataset) -> bytes:
    """The Part-10 bytes of a dataset changed by coercion, in its own transfer syntax."""
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


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
