"""Datasets with identifying values planted in every text attribute the DICOM PS3.15 basic
profile removes or replaces (tests of research albums: tests/unit/test_deidentify.py,
tests/integration/test_research_albums.py)."""
from __future__ import annotations

import io

import pydicom
from pydicom.data import get_testdata_file
from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from chalicelib.dicom.deidentify import profile_tags

FILES = ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "test-SR.dcm", "US1_UNCR.dcm", "SC_rgb_jpeg_dcmtk.dcm")
# VRs a planted value can take whatever its maximum length (16 for SH/CS/AE): an upper-case token.
PLANTABLE = ("LO", "SH", "PN", "LT", "ST", "UT", "UC", "CS", "AE")


def plantable_tags() -> list[int]:
    """Every single tag the profile removes or replaces (X, Z, D and their combinations) that can
    carry a text value; sequences and UIDs are checked separately."""
    out = []
    for tag in sorted(profile_tags()):
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            continue
        if vr in PLANTABLE and keyword_for_tag(tag) and profile_tags()[tag] != "U":
            out.append(tag)
    return out


PLANTABLE_TAGS = plantable_tags()


def planted(name: str, token: str, tags: list[int], *, nested: bool) -> tuple[Dataset, set[str]]:
    """A test file with a distinct identifying value in each of `tags` (and, when `nested`, in the
    same tags inside an item of a reference sequence), and new UIDs; the values planted."""
    dataset = pydicom.dcmread(get_testdata_file(name))
    dataset.PatientID, dataset.PatientName = f"{token}PID", f"{token}^PATIENTNAME"
    values: set[str] = set()
    for index, tag in enumerate(tags):
        value = f"{token}{index:04d}"
        dataset.add_new(tag, dictionary_VR(tag), value)
        values.add(value)
    if nested:
        item = Dataset()
        for index, tag in enumerate(tags[:40]):
            value = f"{token}N{index:03d}"
            item.add_new(tag, dictionary_VR(tag), value)
            values.add(value)
        item.ReferencedSOPClassUID = dataset.SOPClassUID
        item.ReferencedSOPInstanceUID = dataset.SOPInstanceUID
        dataset.ReferencedImageSequence = Sequence([item])
    dataset.PatientBirthDate = "19430612"
    values.add("19430612")
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        setattr(dataset, keyword, generate_uid())
        values.add(str(getattr(dataset, keyword)))
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    values.add(str(dataset.PatientID))
    if dataset.get("PatientName"):
        values.add(str(dataset.PatientName))
    return dataset, values


def encoded(dataset: Dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


