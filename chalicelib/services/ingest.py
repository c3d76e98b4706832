"""Ingest: the one path by which instances enter Obelisk (STOW-RS now, large uploads later).

An instance becomes visible only once its bytes, renditions and index rows are all written: S3
objects first, then one DynamoDB transaction per series of the request (its instances, series,
study, share). A failed transaction removes the objects it wrote. What is per study (shares,
identities, permission) is read once per request, existence in one BatchGetItem (docs/dicomweb.md). Ingest is idempotent per instance (study, series, SOP Instance UID). Each stored
instance's objects are named with a new generation (`dicom_store`), kept on its index row, and a
new series row gets one too: a series purged and stored again never reuses an object name. Each
instance is parsed once (`services.parsed.ParsedInstance`: one DICOM JSON conversion, frames cut
once), and every step after reads that value; the share row is written by `shares.write_share` and
conflicts are retried with `aws.back_off`, as every share write is. Its parts: the answer's
values (`ingest_results`), the checks against the study joined (`identity_checks`), the rows and
transactions of accepted instances (`ingest_rows`)."""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from pynamodb.exceptions import TransactWriteError

from chalicelib import clock
from chalicelib.auth import policy
from chalicelib.auth.principals import Principal
from chalicelib.dicom import json_model, stow
from chalicelib.dicom.uids import MAX_KEYABLE_LENGTH, is_keyable_uid
from chalicelib.errors import BadRequest, PayloadTooLarge, SeriesNotFound
from chalicelib.events import mutations
from chalicelib.services import identity_checks, ingest_rows, renditions, research_intake
from chalicelib.services.ingest_results import (
    CANNOT_UNDERSTAND,
    INVALID_ATTRIBUTE_VALUE,
    NOT_AUTHORIZED,
    OUT_OF_RESOURCES,
    PROCESSING_FAILURE,
    STUDY_UID_MISMATCH,
    Failed,
    IngestResult,
    Stored,
)
from chalicelib.services.ingest_rows import Accepted
from chalicelib.services.parsed import UID_KEYWORDS, ParsedInstance, of_dataset, parse, read_part10  # noqa: F401 - read_part10 is ingest's
from chalicelib.store import aws, dicom_store, identity, listing, research, shares
from chalicelib.store.items import get_or_none
from chalicelib.store.models import Album, InstanceRecord, SeriesRecord, StudyRecord, transact

if TYPE_CHECKING:
    import pydicom

COMMIT_ATTEMPTS = shares.WRITE_ATTEMPTS
# Albums holding a series whose study rows count its instances in the commit that stores them
# (`listing.grow`): with 25 - 24 instances, 6 other rows and 68 term rows, 99 items of 100.
GROWN_PER_COMMIT = 24
WRITE_BATCH_BYTES = 64 * 1024 * 1024  # objects held before they are written (a large upload may hold more)


class Ingest:
    """One STOW request's worth of instances, with per-request caches of what it looked up: each
    study's shares and identities are read once, existence is checked for all instances at once,
    and the instances of a series are indexed several per transaction."""

    def __init__(self, principal: Principal, album_id: str | None, study_uid: str | None = None):
        self.principal = principal
        self.album_id = policy.series_add_target(principal, album_id)
        self.expected_study = study_uid
        self.result = IngestResult(album_id=self.album_id)
        self._standing = policy.StoreStanding(principal, self.album_id)
        self._references: dict[str, dict | None] = {}  # study -> the identity its sender reads
        self._identities: dict[tuple[str, str], dict] = {}  # (study, series) -> stored identity
        self._already_in_album: dict[tuple[str, str], bool] = {}
        self._new_in_album: dict[str, bool] = {}
        self._shared: set[tuple[str, str]] = set()  # series put into the album by `_share`
        self._documents: dict[tuple[str, str, str], dict] = {}  # (study, series, sop) -> metadata document
        self._proposed: set[str] = set()  # series generations this request's commits proposed
        self._holders: dict[tuple[str, str], list[str]] = {}  # (study, series) -> the other albums holding it

    def add(self, data: bytes, dataset: pydicom.Dataset | None = None) -> None:
        """Checks and stores one instance (see `add_all`): its bytes, parsed here (`parse`) unless
        the caller made and checked the dataset itself."""
        self.add_all([parse(data) if dataset is None else of_dataset(data, dataset)])

    def add_all(self, instances: list[ParsedInstance]) -> None:
        """Checks the instances in order (each against the study as the sender reads it, and as
        the instances before it in the request left it), then stores those that passed: objects
        first, then the index rows of each series in as few transactions as fit."""
        present = ingest_rows.existing([i.uids for i in instances if all(is_keyable_uid(u) for u in i.uids)])
        new: list[Accepted] = []
        known: list[Accepted] = []
        order: list[Accepted] = []
        for instance in instances:
            accepted = self._accept(instance)
            if accepted is None:
                continue
            order.append(accepted)
            key = instance.key
            if key in present:
                known.append(accepted)
                continue
            present.add(key)
            self._expect(accepted)
            new.append(accepted)
        written = self._store_new(new)
        shared: list[Accepted] = []
        for accepted in known:
            stored = accepted.stored
            self._remember_album_state(stored.study_uid, stored.series_uid)
            try:
                stored.new_in_album = self._share(stored.study_uid, stored.series_uid,
                                                  str(accepted.instance.dataset.get("Modality", "")))
            except SeriesNotFound:  # purged since it was found stored
                self.result.failed.append(Failed(stored.sop_uid, stored.sop_class_uid, PROCESSING_FAILURE,
                                                 "the series was deleted while the instance was stored; send it again"))
                continue
            shared.append(accepted)
        kept = {id(a.stored) for a in [*written, *shared]}
        self.result.stored.extend(a.stored for a in order if id(a.stored) in kept)

    def _accept(self, instance: ParsedInstance) -> Accepted | None:
        """The instance with its study-level attributes coerced, or None when refused."""
        study, series, sop, sop_class = instance.uids
        failure = self._refusal(instance)
        if failure:
            reason, comment, tags = failure
            self.result.failed.append(Failed(sop, sop_class, reason, comment, tags))
            return None
        coerced = identity_checks.coerce(instance.dataset, self._reference(study, series), instance.attributes)
        if coerced:  # the dataset changed: its DICOM JSON as it is now (`_expect` encodes it again)
            instance = replace(instance, attributes=json_model.to_json(instance.dataset))
        return Accepted(instance, Stored(study, series, sop, sop_class), coerced)

    def _expect(self, accepted: Accepted) -> None:
        """The identity the next instances of the request are checked against, as if stored."""
        stored = accepted.stored
        if accepted.coerced:
            accepted.instance = accepted.instance.coerced(accepted.attributes)
        stored_identity = json_model.subset(accepted.attributes, json_model.PATIENT_STUDY_KEYWORDS)
        self._identities.setdefault((stored.study_uid, stored.series_uid), stored_identity)
        if self._references.get(stored.study_uid) is None:
            self._references[stored.study_uid] = self._identities[(stored.study_uid, stored.series_uid)]

    def _refusal(self, instance: ParsedInstance) -> tuple[int, str, list[str]] | None:
        study, series = instance.study_uid, instance.series_uid
        too_long = [k for k, uid in zip(UID_KEYWORDS, instance.uids, strict=True) if not is_keyable_uid(uid)]
        if too_long:
            return CANNOT_UNDERSTAND, f"{too_long[0]} longer than {MAX_KEYABLE_LENGTH} characters", []
        if self.expected_study and study != self.expected_study:
            return STUDY_UID_MISMATCH, "StudyInstanceUID differs from the study in the request URL", []
        if not self._standing.study(study).may_add(series):
            return NOT_AUTHORIZED, "the series exists and you have no access to it", []
        reference = self._reference(study, series)
        if reference is None:
            return None  # the sender reads nothing of the study: it is a new study to them
        conflicts = identity_checks.conflicts(instance.attributes, reference)
        if conflicts:
            names = ", ".join(json_model.keyword_of(t) for t in conflicts)
            return INVALID_ATTRIBUTE_VALUE, f"conflicts with the stored study: {names}", conflicts
        return None

    def _reference(self, study: str, series: str) -> dict | None:
        """The identity an instance is checked against: its series' when the sender reads it,
        else the study's as the sender reads it (`identity.of_study`); None when the sender reads
        no series of the study (semantics: a STOW then behaves as into a new study)."""
        if study not in self._references:
            readable = self._standing.study(study).readable_series()
            self._identities.update(identity.read(study, readable) if readable else {})
            self._references[study] = identity.of_study(self._identities, study)
        return self._identities.get((study, series)) or self._references[study]

    def _store_new(self, new: list[Accepted]) -> list[Accepted]:
        """Stores instances not stored yet, series by series; those indexed (or found stored by
        a concurrent request) are returned, the others are in `result.failed`."""
        by_series: dict[tuple[str, str], list[Accepted]] = {}
        for accepted in new:
            by_series.setdefault((accepted.stored.study_uid, accepted.stored.series_uid), []).append(accepted)
        written: list[Accepted] = []
        for (study, series), instances in by_series.items():
            self._remember_album_state(study, series)
            room = ingest_rows.MAX_INSTANCES_PER_COMMIT - min(GROWN_PER_COMMIT, len(self._other_holders(study, series)))
            for chunk in (c[i:i + room] for c in ingest_rows.commit_chunks(instances) for i in range(0, len(c), room)):
                self._write_objects(chunk)
                written += self._index(chunk)
        return written

    def _other_holders(self, study: str, series: str) -> list[str]:
        """The albums but the target holding the series, whose study rows count its instances too
        (`listing.grow`): from the study's shares read once per request, read again when a commit
        fails (an album took the series or let it go meanwhile)."""
        if (study, series) not in self._holders:
            self._holders[(study, series)] = sorted({s.album_id for s in self._standing.study(study).holders
                                                     if s.series_uid == series} - {self.album_id})
        return self._holders[(study, series)]

    def _write_objects(self, chunk: list[Accepted]) -> None:
        """The permanent S3 objects of each instance (skeleton and frames: docs/storage.md), named
        with a new generation, the chunk's written concurrently (at most `WRITE_BATCH_BYTES` of them
        held at once); on a failure those of the chunk are removed. Each instance's metadata
        document is not written (it is derived from the skeleton on its first read) but kept for
        `finish`, which may write the series metadata from it."""
        for accepted in chunk:
            accepted.generation = dicom_store.new_generation()
        try:
            objects = []
            for accepted in chunk:
                instance = accepted.instance
                objects += dicom_store.instance_objects(
                    *instance.key, instance.transfer_syntax, instance.data, generation=accepted.generation,
                    dataset=instance.dataset, cut=instance.frames)
                self._documents[instance.key] = instance.document
                if sum(len(o[1]) for o in objects) >= WRITE_BATCH_BYTES:
                    dicom_store.put_all(objects)
                    objects = []
            dicom_store.put_all(objects)
        except Exception:
            ingest_rows.delete_objects(chunk)
            raise

    def _index(self, chunk: list[Accepted]) -> list[Accepted]:
        """One transaction for the chunk (instances of one series), retried while another request
        changes the same rows; instances a concurrent request stored first leave the chunk (their
        objects of this request removed). Returns the chunk's instances now stored."""
        study = chunk[0].stored.study_uid
        pending, settled = list(chunk), []
        for attempt in range(COMMIT_ATTEMPTS):
            try:
                self._commit(pending, clock.local_iso())
                break
            except TransactWriteError as error:
                series = chunk[0].stored.series_uid
                holders_read = self._holders.get((study, series))
                self._holders[(study, series)] = sorted(
                    {s.album_id for s in shares.shares_of_study(study, series)} - {self.album_id})
                present = ingest_rows.existing([a.instance.uids for a in pending])
                if present:  # a concurrent request stored some of them first, under its own generation
                    first = [a for a in pending if a.instance.key in present]
                    ingest_rows.delete_objects(first)
                    settled += first
                    pending = [a for a in pending if a not in first]
                    if not pending:
                        return settled
                    continue
                guessed_new = self._study_is_new(study)
                self._new_in_album[study] = listing.row(self.album_id, study) is None
                if attempt + 1 < COMMIT_ATTEMPTS and self._new_in_album[study] != guessed_new:
                    continue  # another request listed the study in the album first, or removed it
                if attempt + 1 < COMMIT_ATTEMPTS and self._holders[(study, series)] != holders_read:
                    continue  # an album took the series or let it go meanwhile: grow the albums holding it now
                if attempt + 1 < COMMIT_ATTEMPTS and _conflict_or_condition(error):
                    # another STOW updated the same series or study, or an album let the series go
                    # and the shares' index (eventually consistent) does not show it yet
                    aws.back_off(attempt)
                    continue
                ingest_rows.delete_objects(pending)
                for accepted in pending:
                    self.result.failed.append(Failed(accepted.stored.sop_uid, accepted.stored.sop_class_uid,
                                                     PROCESSING_FAILURE, f"index write failed: {error}"))
                return settled
        else:
            ingest_rows.delete_objects(pending)
            for accepted in pending:
                self.result.failed.append(Failed(accepted.stored.sop_uid, accepted.stored.sop_class_uid,
                                                 PROCESSING_FAILURE, "index write failed: the rows kept changing"))
            return settled
        self._new_in_album[study] = False
        for accepted in pending:
            accepted.stored.new_in_album = accepted.stored.created = True
            accepted.stored.coerced = accepted.coerced
        return settled + pending

    def _commit(self, chunk: list[Accepted], moment: str) -> None:
        """One transaction: the instances (each if absent), their series and study rows, the
        album share. The series row keeps the generation it has (a new row takes a new one)."""
        first = chunk[0]
        study, series = first.stored.study_uid, first.stored.series_uid
        attributes = first.attributes
        series_identity = self._identities.get((study, series)) or json_model.subset(
            attributes, json_model.PATIENT_STUDY_KEYWORDS)
        generation = dicom_store.new_generation()
        self._proposed.add(generation)
        with transact() as transaction:
            for accepted in chunk:
                transaction.save(ingest_rows.instance_record(accepted, moment), condition=InstanceRecord.pk.does_not_exist())
            transaction.update(
                SeriesRecord(*SeriesRecord.key(study, series)),
                actions=[
                    SeriesRecord.study_uid.set(study),
                    SeriesRecord.series_uid.set(series),
                    SeriesRecord.attributes.set(SeriesRecord.attributes | json_model.subset(attributes, json_model.SERIES_KEYWORDS)),
                    SeriesRecord.study_attributes.set(SeriesRecord.study_attributes | series_identity),
                    SeriesRecord.instance_count.add(len(chunk)),
                    SeriesRecord.generation.set(SeriesRecord.generation | generation),
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
            shares.write_share(transaction, self.album_id, study, series, moment, self._placer(), only_new=False)
            listing.add(transaction, self.album_id, study, series, series_identity,
                        json_model.text_value(attributes, "Modality"), self._study_is_new(study), len(chunk))
            others = self._other_holders(study, series)
            for album in others[:GROWN_PER_COMMIT]:
                listing.grow(transaction, album, study, series, len(chunk))
        for album in others[GROWN_PER_COMMIT:]:  # a series in very many albums: their rows after the commit
            listing.grow_alone(album, study, series, len(chunk))

    def _placer(self) -> str | None:
        """Who places a series in a research album's intake (`SeriesShare.placed_by`): the one
        principal that may go on adding to it there (`policy.StudyStanding`)."""
        return self.principal.sub if research.is_intake(self.album_id) else None

    def _study_is_new(self, study: str) -> bool:
        """Whether the target album holds nothing of the study yet: guessed from the study's
        shares read once per request; a wrong guess cancels the transaction (`listing.add`) and
        the album's row is then read (`_index`)."""
        if study not in self._new_in_album:
            standing = self._standing.study(study)
            self._new_in_album[study] = not any(s.album_id == self.album_id for s in standing.holders)
        return self._new_in_album[study]

    def _remember_album_state(self, study: str, series: str) -> None:
        """Notes, once per request, whether the target album held the series before it."""
        key = (study, series)
        if key not in self._already_in_album:
            self._already_in_album[key] = self._standing.study(study).in_target(series)

    def finish(self) -> IngestResult:
        """After the last instance: the series metadata of each series this request brought whole
        (`_build_series`); then one import event per series new to the album (not for the inbox),
        all sent together."""
        grown: dict[tuple[str, str], int] = {}
        for stored in self.result.stored:
            if stored.new_in_album:
                grown[(stored.study_uid, stored.series_uid)] = grown.get((stored.study_uid, stored.series_uid), 0) + 1
        self._build_series()
        if grown and research.is_intake(self.album_id):  # a research album's: copies, then events
            for study in sorted({study for study, _ in grown}):
                research_intake.enter(self.album_id, self.principal, study, {se for st, se in grown if st == study})
        elif grown and not self._is_inbox():
            imports = {}
            for study in sorted({study for study, _ in grown}):
                counts = {series: n for (st, series), n in grown.items() if st == study}
                imports[study] = (counts, {se for se in counts if not self._already_in_album.get((study, se), False)})
            mutations.import_studies(self.album_id, self.principal, imports, "upload")
        return self.result

    def _build_series(self) -> None:
        """A series this request stored whole (its row counts only this request's instances, under
        a generation one of its commits proposed) gets its metadata object from the documents in
        memory (`renditions.write_series_metadata`: one PUT), so a viewer's first read finds it;
        any other series grown is queued for the renditions function, which builds its objects
        once the series is quiet (reading every instance: O(series), so never on a STOW, which
        would be O(n^2) for a series sent an instance at a time). The series multipart, like every
        other derived object, is built on its first read (docs/storage.md)."""
        created: dict[tuple[str, str], list[str]] = {}
        for stored in self.result.stored:
            if stored.created:
                created.setdefault((stored.study_uid, stored.series_uid), []).append(stored.sop_uid)
        if not created:
            return
        rows = {(r.study_uid, r.series_uid): r for r in
                SeriesRecord.batch_get([SeriesRecord.key(*key) for key in created], consistent_read=True)}
        queued = []
        for (study, series), sops in sorted(created.items()):
            row = rows.get((study, series))
            if row is None:
                continue  # purged since its commit (a delete that came after it): nothing to build
            if int(row.instance_count) == len(sops) and row.generation in self._proposed:
                renditions.write_series_metadata(row, {sop: self._documents[(study, series, sop)] for sop in sops})
            else:
                queued.append((study, series, int(row.instance_count)))
        if queued:
            renditions.schedule_builds(queued)

    def _is_inbox(self) -> bool:
        user = getattr(self.principal, "user", None)
        if user is not None and self.album_id == user.inbox_id:
            return True
        return _is_inbox(self.album_id)

    def _share(self, study: str, series: str, modality: str) -> bool:
        """Puts an already-stored series into the target album (once per request); True when it
        was not there."""
        if self._already_in_album.get((study, series)) or (study, series) in self._shared:
            return False
        self._shared.add((study, series))
        if (study, series) not in self._identities:
            self._identities.update(identity.read(study, [series]))
        added = shares.add_series(self.album_id, study, series, self._identities.get((study, series), {}), modality,
                                  placed_by=self._placer())
        self._new_in_album[study] = False
        return added


def store_body(principal: Principal, album_id: str | None, study_uid: str | None, content_type: str,
               body: bytes) -> IngestResult:
    """The whole STOW: every part is parsed before anything is written, so a malformed body
    (bad multipart, wrong boundary, empty, nothing readable) is refused with no residue."""
    parts = stow.instances(content_type, body)
    ingest = Ingest(principal, album_id, study_uid)
    readable: list[ParsedInstance] = []
    too_large: list[PayloadTooLarge] = []
    for data in parts:
        try:
            readable.append(parse(data))
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
    ingest.add_all(readable)
    return ingest.finish()


def _is_inbox(album_id: str) -> bool:
    album = get_or_none(Album, Album.key(album_id))
    return bool(album and album.is_inbox)


def _conflict_or_condition(error: TransactWriteError) -> bool:
    """Whether a cancelled commit may pass when tried again: a concurrent transaction on the same
    rows, or a condition of ours that a concurrent change made false (an album's row grown on the
    condition that it still holds the series: `listing.grow`)."""
    cause = str(error.cause)
    return "TransactionConflict" in cause or "ConditionalCheckFailed" in cause
