"""What `obelisk upload` sends: DICOM Part-10 files found in folders and zip archives (the 128-byte
preamble and `DICM`), with the UIDs that let a resumed upload skip what is already stored.
DICOMDIRs and anything else are skipped and listed."""
from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pydicom

DICOMDIR_CLASS = "1.2.840.10008.1.3.10"  # Media Storage Directory Storage
UID_TAGS = ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"]


@dataclass(frozen=True)
class Instance:
    """One Part-10 file to send: where it is, its size, its UIDs, and how to read its bytes."""

    name: str
    size: int
    study_uid: str
    series_uid: str
    sop_uid: str
    read: Callable[[], bytes] = field(compare=False, repr=False)


@dataclass
class Collection:
    instances: list[Instance] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)


def collect(paths: list[str]) -> Collection:
    """Every DICOM instance under `paths` (files, folders walked, zip archives opened)."""
    found = Collection()
    for name in paths:
        for entry_name, size, reader, source in _entries(Path(name)):
            _classify(found, entry_name, size, reader, source)
    return found


def _entries(path: Path) -> Iterator[tuple[str, int, Callable[[], bytes], Path | None]]:
    """(name, size, reader, the file itself or None for a zip member)."""
    if path.is_dir():
        for root, dirs, names in os.walk(path):
            dirs.sort()
            for name in sorted(names):
                yield from _entries(Path(root) / name)
    elif zipfile.is_zipfile(path) if path.is_file() else False:
        archive = zipfile.ZipFile(path)
        for info in archive.infolist():
            if not info.is_dir():
                yield f"{path}!{info.filename}", info.file_size, _zip_reader(path, info.filename), None
    elif path.is_file():
        yield str(path), path.stat().st_size, path.read_bytes, path
    else:
        yield str(path), 0, _missing, path


def _zip_reader(path: Path, member: str) -> Callable[[], bytes]:
    def read() -> bytes:
        with zipfile.ZipFile(path) as archive:
            return archive.read(member)
    return read


def _missing() -> bytes:
    raise FileNotFoundError


def _classify(found: Collection, name: str, size: int, reader: Callable[[], bytes], source: Path | None) -> None:
    try:
        if source is not None:
            with open(source, "rb") as handle:
                head = handle.read(132)
        else:
            head = reader()
    except OSError as error:
        found.skipped.append((name, f"unreadable: {error.strerror or error}"))
        return
    if len(head) < 132 or head[128:132] != b"DICM":
        found.skipped.append((name, "not a DICOM Part-10 file (no DICM preamble)"))
        return
    try:  # from a file, pydicom reads only up to the UIDs (never the pixel data)
        dataset = pydicom.dcmread(source if source is not None else io.BytesIO(head), stop_before_pixels=True,
                                  specific_tags=["MediaStorageSOPClassUID", *UID_TAGS])
    except Exception as error:  # noqa: BLE001 - whatever pydicom raises, the file is not sendable
        found.skipped.append((name, f"unreadable DICOM: {error}"))
        return
    if str(dataset.file_meta.get("MediaStorageSOPClassUID", "")) == DICOMDIR_CLASS:
        found.skipped.append((name, "DICOMDIR (a directory, not an instance)"))
        return
    uids = [str(dataset.get(keyword, "")) for keyword in UID_TAGS]
    if not all(uids):
        found.skipped.append((name, "no Study, Series or SOP Instance UID"))
        return
    found.instances.append(Instance(name, size, *uids, read=reader))
