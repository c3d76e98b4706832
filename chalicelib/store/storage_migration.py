"""Brings a bucket written before the store-once layout (docs/storage.md) up to it: each whole
Part-10 object (`dicom/...dcm`) becomes a skeleton next to the frame objects it already had, and
the renditions ingest and reads wrote for good (instance multipart, the instance's metadata
document, bulk data, rendered images, several-frame answers, series and study objects, zips under
`wado/`) are deleted: the cache rebuilds them on the next read.

It reads the bucket only (no index row), so it serves the local state (`.obelisk/`, run at every
start by `chalicelib.store.migrations`) and a deployed bucket alike:
`python -m chalicelib.store.storage_migration [--dry-run]`. A dry run writes and deletes nothing
and reports what a run would free. A whole Part-10 object is deleted only after the file joined
from the new skeleton and frames reads back byte for byte. Idempotent. In a versioned bucket the
deleted bytes stay as noncurrent versions until the lifecycle rule expires them
(NoncurrentVersionDays)."""
from __future__ import annotations

import argparse
import io
import json
import sys
from dataclasses import asdict, dataclass, field

from chalicelib.config import settings
from chalicelib.dicom import frames, skeleton
from chalicelib.store import dicom_store
from chalicelib.store.aws import client

# the instance's metadata document (`metadata.json`) is derived from its skeleton since it is read
# from there (docs/storage.md), as the multipart copy and the images are
DERIVED_LEAVES = ("instance", "metadata.json", "rendered.jpeg", "thumbnail.jpeg")


@dataclass
class Report:
    part10_converted: int = 0
    part10_kept_whole: int = 0  # frames not found again in the file: the skeleton is the file
    derived_deleted: int = 0
    frames_of_whole_deleted: int = 0  # frame objects of files kept whole (cut into the cache on read)
    bytes_deleted: int = 0
    bytes_written: int = 0
    failed: list[str] = field(default_factory=list)  # left as they were (unreadable, or a join differed)

    @property
    def bytes_freed(self) -> int:
        return self.bytes_deleted - self.bytes_written


def listing(prefix: str) -> dict[str, int]:
    """key -> size of the current objects under prefix."""
    pages = client("s3").get_paginator("list_objects_v2").paginate(Bucket=settings().dicom_bucket, Prefix=prefix)
    return {o["Key"]: o["Size"] for page in pages for o in page.get("Contents", [])}


def is_derived(key: str) -> bool:
    """A `wado/` object the store-once layout keeps under `cache/` (or not at all)."""
    parts = key.split("/")
    if len(parts) < 4 or parts[0] != "wado":
        return False
    if parts[2] == "assembled" or parts[3] == "series":
        return True
    leaf = parts[-1]
    if leaf in DERIVED_LEAVES or "bulk" in parts or "images" in parts:
        return True
    return parts[-2] == "frames" and "," in leaf


def _names(key: str) -> tuple[str, str, str, str | None]:
    """(study, series, sop, generation) of a `dicom/...dcm` key."""
    parts = key.removesuffix(".dcm").split("/")
    if len(parts) == 5:
        return parts[1], parts[2], parts[3], parts[4]
    return parts[1], parts[2], parts[3], None


def convert(key: str, size: int, report: Report, dry_run: bool) -> str | None:
    """One whole Part-10 object into a skeleton, its frame objects checked (written if absent or
    different), the whole object deleted once the join reads back identical. Returns the prefix of
    its frame objects when the skeleton is the whole file (they are then left to
    `drop_frames_of_whole_files`)."""
    import pydicom

    study, series, sop, generation = _names(key)
    data = dicom_store.read(key)
    dataset = pydicom.dcmread(io.BytesIO(data))
    syntax = str(dataset.file_meta.TransferSyntaxUID)
    cut = list(frames.frames(dataset))
    spans, rest = skeleton.split(data, dataset, cut)
    report.part10_kept_whole += not spans
    stored = skeleton.encode(spans, rest)
    missing = [(n, f) for n, f in enumerate(cut, start=1)
               if spans and not _frame_matches(study, series, sop, n, f, syntax, generation)]
    report.bytes_written += len(stored) + sum(len(dicom_store.octet_multipart([f], syntax)[0]) for _, f in missing)
    report.bytes_deleted += size
    report.part10_converted += 1
    whole = None if spans else dicom_store.instance_prefix(study, series, sop, generation=generation) + "frames/"
    if dry_run:
        return whole
    for number, frame in missing:
        dicom_store.put(dicom_store.frame_key(study, series, sop, number, generation=generation),
                        *dicom_store.octet_multipart([frame], syntax))
    dicom_store.put(dicom_store.skeleton_key(study, series, sop, generation=generation), stored,
                    "application/octet-stream")
    joined = b"".join(dicom_store.part10_chunks(study, series, sop, syntax, generation=generation))
    if joined != data:
        dicom_store.delete_objects([dicom_store.skeleton_key(study, series, sop, generation=generation)])
        raise RuntimeError(f"{key}: the joined file differs from the stored one; left as it was")
    dicom_store.delete_objects([key])
    return whole


def _frame_matches(study: str, series: str, sop: str, number: int, frame: bytes, syntax: str,
                   generation: str | None) -> bool:
    expected = dicom_store.octet_multipart([frame], syntax)[0]
    key = dicom_store.frame_key(study, series, sop, number, generation=generation)
    headers = dicom_store.head(key)
    return headers is not None and headers["ContentLength"] == len(expected) and dicom_store.read(key) == expected


def migrate(dry_run: bool = False) -> Report:
    report = Report()
    converted_whole: set[str | None] = set()
    for key, size in listing("dicom/").items():
        if key.endswith(".dcm"):
            try:
                converted_whole.add(convert(key, size, report, dry_run))
            except Exception as error:  # noqa: BLE001 - one odd object must not stop the others
                report.failed.append(f"{key}: {error}")
    wado = listing("wado/")
    drop_frames_of_whole_files(wado, report, dry_run, converted_whole)
    derived = {k: s for k, s in wado.items() if is_derived(k)}
    report.derived_deleted = len(derived)
    report.bytes_deleted += sum(derived.values())
    if not dry_run:
        dicom_store.delete_objects(sorted(derived))
    return report


def drop_frames_of_whole_files(wado: dict[str, int], report: Report, dry_run: bool,
                               converted_whole: set[str | None]) -> None:
    """Deletes the permanent frame objects of instances whose skeleton is the whole file: their
    frames are cut into the cache on read (stored before that, a deflated file kept its inflated
    pixel data again, labelled with the deflated transfer syntax). `converted_whole`: the frame
    prefixes of the files this run found whole (a dry run wrote no skeleton for them)."""
    for key in wado:
        parts = key.split("/")
        if parts[-2:] != ["frames", "1"] or len(parts) not in (6, 7):
            continue
        if key[:-1] not in converted_whole and not _skeleton_is_whole(parts):
            continue
        frame_objects = {k: wado[k] for k in wado if k.startswith(key[:-1]) and "," not in k.rsplit("/", 1)[1]}
        report.frames_of_whole_deleted += len(frame_objects)
        report.bytes_deleted += sum(frame_objects.values())
        if not dry_run:
            dicom_store.delete_objects(sorted(frame_objects))


def _skeleton_is_whole(parts: list[str]) -> bool:
    """Whether the skeleton of the instance a `wado/{st}/{se}/{sop}[/{gen}]/frames/1` key names
    holds no span (the file kept whole)."""
    whole = skeleton.MAGIC + b"[]\n"
    generation = parts[4] if len(parts) == 7 else None
    try:
        start = dicom_store.read_range(dicom_store.skeleton_key(*parts[1:4], generation=generation), 0, len(whole))
    except client("s3").exceptions.ClientError:
        return False  # no skeleton: a whole Part-10 object left as it was
    return start == whole


def summary(report: Report) -> dict:
    return {**asdict(report), "bytes_freed": report.bytes_freed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="report what a run would free; change nothing")
    arguments = parser.parse_args(argv)
    print(json.dumps(summary(migrate(dry_run=arguments.dry_run))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
