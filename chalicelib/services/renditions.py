"""Derived objects, assembled from the stored ones (skeleton and frames: docs/storage.md) so that
each read is one GET of an S3 object with a conformant Content-Type. All are under the cache
prefix: the instance's metadata document converted from its skeleton (`instance_document`), the
Part-10 file joined from its skeleton and frames, the answers holding it, bulk data, rendered
images and thumbnails are built on their first read, and again once the bucket's lifecycle rule
has expired them. A STOW writes only the permanent objects (`dicom_store.instance_objects`).

Series objects are keyed by the series' instance count, so object N is always complete even
under concurrent STOW, and by the series' generation (`SeriesRecord.generation`), so a series
purged and stored again by someone else never answers under an old object's name. The series
metadata, which a viewer's first read waits for, is built ahead: by the STOW that stored the
whole series, from the documents it holds (`write_series_metadata`, one PUT), else by the
renditions function once the series has been quiet for a moment (`schedule_build`,
`build_if_settled`), off the request path: building reads every instance, so a STOW doing it
would cost O(n^2) for a series sent one instance per request. A reader that still finds object N
missing builds it, the metadata from the instances' skeletons read in parallel
(docs/dicomweb.md); the series multipart is built by its first read."""
from __future__ import annotations

import hashlib
import io
import json
import logging
import zipfile
from collections.abc import Callable, Iterable, Iterator

from chalicelib.config import settings
from chalicelib.dicom import frames, json_model, skeleton
from chalicelib.errors import ConcurrentChange, NotFound
from chalicelib.events import messages
from chalicelib.events.messages import SeriesGrown
from chalicelib.services import parsed
from chalicelib.store import aws, dicom_store, studies
from chalicelib.store.items import get_or_none
from chalicelib.store.models import InstanceRecord, SeriesRecord

log = logging.getLogger("obelisk")
SERIES_BOUNDARY = "obelisk-series-boundary"
DICOM_JSON = "application/dicom+json"
READ_ATTEMPTS = 4  # reads of a series row and its instances before giving up on a moving series


def instance_document(record: InstanceRecord) -> dict:
    """The instance's metadata document, the one its STOW converted (`parsed`), from one GET: its
    skeleton (`document_from_skeleton`), or, for an instance stored whole before skeletons and not
    migrated yet, its whole file. A permanent metadata document written before is not read."""
    names = (record.study_uid, record.series_uid, record.sop_uid)
    body = dicom_store.read_if_present(dicom_store.skeleton_key(*names, generation=record.generation))
    if body is None:
        whole = dicom_store.read_if_present(dicom_store.part10_key(*names, generation=record.generation))
        if whole is None:  # purged since its row was read
            raise NotFound("the instance was deleted while it was read", message="Instance Not Found")
        return parsed.document_of(whole)
    spans, rest = skeleton.decode(body)
    return document_from_skeleton(spans, rest, lambda: dicom_store.joined_chunks(
        *names, record.transfer_syntax_uid, spans, rest, generation=record.generation))


def document_from_skeleton(spans: list[skeleton.Span], rest: bytes, joined: Callable[[], Iterable[bytes]]) -> dict:
    """The metadata document of the file a skeleton holds, without its frames: zeros of their
    length stand in for them (`skeleton.stand_in`), since the document names pixel data by a
    BulkDataURI, never by its bytes. Pixel data short enough to be given inline (InlineBinary:
    at most 768 bytes, pydicom's threshold) is the exception: then the file is joined (`joined`)."""
    document = parsed.document_of(skeleton.stand_in(spans, rest))
    if spans and any("InlineBinary" in document.get(key, {}) for key in skeleton.PIXEL_KEYS):
        document = parsed.document_of(b"".join(joined()))
    return document


def instance_metadata_key(record: InstanceRecord) -> str:
    """The key of the instance's metadata object, in the cache (`write_instance_metadata`)."""
    return dicom_store.instance_metadata_key(record.study_uid, record.series_uid, record.sop_uid,
                                             generation=record.generation)


def write_instance_metadata(record: InstanceRecord) -> None:
    """The instance's metadata object, `[document]` gzipped (`dicom_store.put_compressed`), built
    on its first read: STOW writes none (docs/storage.md)."""
    dicom_store.put_compressed(instance_metadata_key(record), json.dumps([instance_document(record)]).encode(),
                               DICOM_JSON)


def series_instances(study: str, series: str) -> list[InstanceRecord]:
    """The stored instances of a series in InstanceNumber order (one strongly consistent Query)."""
    records = studies.series_instances(study, series, consistent_read=True)
    return sorted(records, key=_instance_order)


def _instance_order(record: InstanceRecord):
    return _order(record.attributes, record.sop_uid)


def _order(attributes: dict, sop: str):
    """Instances in InstanceNumber order, then by SOP Instance UID (those without one last)."""
    number = json_model.first_value(attributes, "InstanceNumber")
    try:
        return int(number), sop
    except (TypeError, ValueError):
        return 1 << 30, sop


def build_series_metadata(study: str, series: str) -> int:
    """Writes the series metadata object for the instances stored now (what a viewer's first read
    waits for); the series multipart, a download, is built on its first read (`series_object`)."""
    row, records = generation_instances(study, series)
    _build_metadata(row, records)
    return len(records)


def write_series_metadata(row: SeriesRecord, documents: dict[str, dict]) -> None:
    """The series metadata object of a series whose every instance one STOW just stored, from
    their documents (SOP Instance UID -> document) still in memory: one PUT, nothing read. The
    caller checks that `documents` is the whole series of `row`'s generation."""
    ordered = [documents[sop] for sop in sorted(documents, key=lambda sop: _order(documents[sop], sop))]
    dicom_store.put(dicom_store.series_metadata_key(row.study_uid, row.series_uid, len(ordered), generation=row.generation),
                    json.dumps(ordered).encode(), DICOM_JSON)


def generation_instances(study: str, series: str, row: SeriesRecord | None = None) -> tuple[SeriesRecord, list[InstanceRecord]]:
    """The series row and its instances, of one generation: the row (`row` if just read,
    consistently) is read again after the instances, so that a series purged and stored again
    meanwhile never puts one owner's instances under a name of the other's generation."""
    for _ in range(READ_ATTEMPTS):
        row = row or series_record(study, series)
        records = series_instances(study, series)
        again = series_record(study, series)
        if again.generation == row.generation:
            return row, records
        row = again
    raise ConcurrentChange("the series was deleted and stored again while it was read; try again")


def schedule_build(study: str, series: str, count: int) -> None:
    """Queues the series' objects for `count` instances, delayed: STOWs still arriving for the
    series make this message stale, and only the last one builds. A failure to queue only
    leaves the build to the first reader: the instances are stored and indexed already."""
    try:
        messages.send(SeriesGrown(study=study, series=series, count=count),
                      delay_seconds=settings().renditions_delay_seconds)
    except Exception:  # noqa: BLE001 - an optimisation must not fail a completed STOW
        log.exception("could not queue the series objects of %s", series)


def schedule_builds(series: list[tuple[str, str, int]]) -> None:
    """`schedule_build` for several series: (study, series, count) each, ten per SQS request."""
    try:
        messages.send_batch([SeriesGrown(study=st, series=se, count=count) for st, se, count in series],
                            delay_seconds=settings().renditions_delay_seconds)
    except Exception:  # noqa: BLE001 - an optimisation must not fail a completed STOW
        log.exception("could not queue the series objects of %s", [se for _, se, _ in series])


def build_if_settled(message: SeriesGrown) -> bool:
    """Handles a `schedule_build` message: builds the series metadata unless the series has grown
    since (a later message will) or it exists already. True when it built."""
    study, series, count = message.study, message.series, int(message.count)
    record = get_or_none(SeriesRecord, SeriesRecord.key(study, series), consistent_read=True)
    if record is None:
        return False  # deleted since
    if int(record.instance_count) != count:
        return False
    if dicom_store.head(dicom_store.series_metadata_key(study, series, count, generation=record.generation)) is not None:
        return False
    return build_series_metadata(study, series) == count


def _build_metadata(series_row: SeriesRecord, records: list[InstanceRecord]) -> str:
    """The series metadata from each instance's skeleton, one GET each, fetched at once (`aws.each`)."""
    documents = aws.each(instance_document, records)
    key = dicom_store.series_metadata_key(series_row.study_uid, series_row.series_uid, len(records),
                                          generation=series_row.generation)
    dicom_store.put(key, json.dumps(documents).encode(), DICOM_JSON)
    return key


def part10_chunks(record: InstanceRecord) -> Iterator[bytes]:
    """The instance's Part-10 file as received, joined from its skeleton and frames."""
    return dicom_store.part10_chunks(record.study_uid, record.series_uid, record.sop_uid, record.transfer_syntax_uid,
                                     generation=record.generation)


def part10_bytes(record: InstanceRecord) -> bytes:
    return b"".join(part10_chunks(record))


def part10_object(record: InstanceRecord) -> str:
    """The key of an object holding exactly the instance's Part-10 file: as stored before
    skeletons, else joined into the cache (built if missing)."""
    names = (record.study_uid, record.series_uid, record.sop_uid)
    key = dicom_store.joined_part10_key(*names, generation=record.generation)
    if dicom_store.head(key) is not None:
        return key
    whole = dicom_store.part10_key(*names, generation=record.generation)
    if dicom_store.head(whole) is not None:
        return whole
    dicom_store.put_streamed(key, part10_chunks(record), "application/dicom")
    return key


def instance_multipart_object(record: InstanceRecord) -> str:
    """The key of the instance's WADO-RS answer (a one-part multipart/related), built if missing."""
    names = (record.study_uid, record.series_uid, record.sop_uid)
    key = dicom_store.instance_multipart_key(*names, generation=record.generation)
    if dicom_store.head(key) is not None:
        return key
    legacy = dicom_store.legacy_instance_multipart_key(*names, generation=record.generation)
    if dicom_store.head(legacy) is not None:
        return legacy
    syntax = record.transfer_syntax_uid
    body = dicom_store.multipart_stream([(part10_chunks(record), dicom_store.dicom_part_type(syntax))],
                                        dicom_store.INSTANCE_BOUNDARY)
    dicom_store.put_streamed(key, body, f"{dicom_store.INSTANCE_MULTIPART_TYPE}; transfer-syntax={syntax}")
    return key


def frame_objects(record: InstanceRecord, numbers: list[int]) -> list[str] | None:
    """The keys of the objects holding these frames' answers; None when one of them is not a frame
    of the instance. Frames are permanent objects, or, for an instance kept whole (its frames are
    not found in the file byte for byte: `dicom_store.instance_objects`), cut from the Part-10 file into
    the cache on their first read."""
    names = (record.study_uid, record.series_uid, record.sop_uid)
    permanent = [dicom_store.frame_key(*names, n, generation=record.generation) for n in numbers]
    first = dicom_store.frame_key(*names, 1, generation=record.generation)
    if dicom_store.head(first) is not None:
        return permanent if all(k == first or dicom_store.head(k) is not None for k in permanent) else None
    derived = [dicom_store.derived_frame_key(*names, n, generation=record.generation) for n in numbers]
    missing = sorted({n for n, key in zip(numbers, derived, strict=True) if dicom_store.head(key) is None})
    if missing and not _cut_frames(record, missing):
        return None
    return derived


def _cut_frames(record: InstanceRecord, numbers: list[int]) -> bool:
    """Writes these frames of an instance kept whole into the cache, in the transfer syntax of its
    frames (`frames.frame_transfer_syntax`); False when one of them is not in the file."""
    import pydicom

    dataset = pydicom.dcmread(io.BytesIO(part10_bytes(record)))
    cut = list(frames.frames(dataset))
    if not cut or max(numbers) > len(cut):
        return False
    syntax = frames.frame_transfer_syntax(record.transfer_syntax_uid)
    names = (record.study_uid, record.series_uid, record.sop_uid)
    for number in numbers:
        dicom_store.put(dicom_store.derived_frame_key(*names, number, generation=record.generation),
                        *dicom_store.octet_multipart([cut[number - 1]], syntax))
    return True


def bulk_object(record: InstanceRecord, path: str) -> str | None:
    """The key of one bulk data element's answer, built (with the instance's others) from the
    Part-10 file when missing; None when the instance has no bulk data at `path`."""
    names = (record.study_uid, record.series_uid, record.sop_uid)
    key = dicom_store.bulk_key(*names, path, generation=record.generation)
    if dicom_store.head(key) is not None:
        return key
    if f'/bulkdata/{path}"' not in json.dumps(instance_document(record)):
        return None  # no such element: nothing to join the Part-10 file for
    import pydicom

    dataset = pydicom.dcmread(io.BytesIO(part10_bytes(record)))
    found = dict(json_model.bulk_elements(dataset))
    if path not in found:
        return None
    dicom_store.put(key, *dicom_store.octet_multipart([found[path]]))
    return key


def write_instances_multipart(key: str, records: list[InstanceRecord]) -> None:
    parts = ((part10_chunks(r), dicom_store.dicom_part_type(r.transfer_syntax_uid)) for r in records)
    dicom_store.put_streamed(key, dicom_store.multipart_stream(parts, SERIES_BOUNDARY),
                             f'multipart/related; type="application/dicom"; boundary={SERIES_BOUNDARY}')


def series_record(study: str, series: str) -> SeriesRecord:
    """The series row, read consistently: its generation names the objects, and a stale row just
    purged could name objects still being deleted."""
    return SeriesRecord.get(*SeriesRecord.key(study, series), consistent_read=True)


def series_object(study: str, series: str, kind: str) -> str:
    """Key of the series `metadata` or `instances` object for the current count and generation,
    built if missing."""
    key_of = dicom_store.series_metadata_key if kind == "metadata" else dicom_store.series_multipart_key
    record = series_record(study, series)
    key = key_of(study, series, int(record.instance_count), generation=record.generation)
    if dicom_store.head(key) is None:  # not prebuilt, a STOW is still finishing, or the series grew
        row, records = generation_instances(study, series)
        if kind == "metadata":
            return _build_metadata(row, records)
        key = key_of(study, series, len(records), generation=row.generation)
        write_instances_multipart(key, records)
    return key


def selection_name(study: str, series_uids: list[str], suffix: str) -> str:
    """A stable name for an answer assembled from these series at their current generations and
    counts (a series purged and stored again, even with the same count, names another answer)."""
    return _selection_hash([series_record(study, s) for s in sorted(series_uids)], suffix)


def _selection_hash(rows: list[SeriesRecord], suffix: str, counts: list[int] | None = None) -> str:
    def part(row: SeriesRecord, count: int) -> str:
        generation = f"{row.generation}:" if row.generation else ""
        return f"{row.series_uid}:{generation}{count}"

    counts = counts if counts is not None else [int(row.instance_count) for row in rows]
    return hashlib.sha256("|".join(map(part, rows, counts)).encode()).hexdigest()[:32] + suffix


def _assembled(study: str, series_uids: list[str], suffix: str) -> tuple[str, list[InstanceRecord] | None]:
    """The key of the answer assembled from these series now, and, when it is not stored yet,
    the instances to build it from (named by the generations and counts they were read at)."""
    key = dicom_store.assembled_key(study, selection_name(study, series_uids, suffix))
    if dicom_store.head(key) is not None:
        return key, None
    read = [generation_instances(study, s) for s in sorted(series_uids)]
    name = _selection_hash([row for row, _ in read], suffix, [len(records) for _, records in read])
    return dicom_store.assembled_key(study, name), [r for _, records in read for r in records]


def study_multipart_object(study: str, series_uids: list[str]) -> str:
    key, records = _assembled(study, series_uids, ".multipart")
    if records is not None:
        write_instances_multipart(key, records)
    return key


def study_metadata_documents(study: str, series_uids: list[str]) -> Iterator[bytes]:
    for series in sorted(series_uids):
        yield dicom_store.read(series_object(study, series, "metadata"))


def zip_object(study: str, series_uids: list[str]) -> str:
    """A stored (uncompressed) zip of the study's visible instances: `DICOM/{n//1000}/{n}`."""
    key, records = _assembled(study, series_uids, ".zip")
    if records is not None:
        dicom_store.put_streamed(key, _zip_stream(records), "application/zip")
    return key


class _Sink:
    """A write-only, unseekable file object (zipfile then writes data descriptors) whose
    chunks a generator hands on."""

    def __init__(self):
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> list[bytes]:
        chunks, self.chunks = self.chunks, []
        return chunks


def _zip_stream(records: list[InstanceRecord]) -> Iterator[bytes]:
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for number, record in enumerate(records, start=1):
            info = zipfile.ZipInfo(f"DICOM/{number // 1000}/{number}")
            data = part10_bytes(record)
            with archive.open(info, "w", force_zip64=len(data) > 0x7FFFFFFF) as entry:
                entry.write(data)
            yield from sink.take()
    yield from sink.take()


def forget_series(study: str, series: str) -> None:
    """For deletions: drops the series' count-keyed objects and every study answer assembled
    from it, since a smaller count may name an older, different set of instances."""
    prefixes = [dicom_store.series_prefix(study, series, generation=None),
                f"wado/{study}/{series}/series/", *dicom_store.assembled_prefixes(study)]
    dicom_store.delete_objects([k for prefix in prefixes for k in dicom_store.keys_under(prefix)])
