"""What one ingest stored and refused: the values of a STOW's answer (PS3.18's ReferencedSOPSequence
and FailedSOPSequence, built by `dicom.stow`'s callers) and the failure reasons it uses."""
from __future__ import annotations

from dataclasses import dataclass, field

# PS3.4 / PS3.18 failure reasons used in FailedSOPSequence.
PROCESSING_FAILURE = 0x0110
NOT_AUTHORIZED = 0x0124
INVALID_ATTRIBUTE_VALUE = 0x0106
CANNOT_UNDERSTAND = 0xC000
OUT_OF_RESOURCES = 0xA700
STUDY_UID_MISMATCH = 0xC409  # as dcm4chee answers it



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
