"""Datasets with identifying values planted in every text attribute the DICOM PS3.15 basic
profile removes or replaces (tests of research albums: tests/unit/test_deidentify.py,
tests/integration/test_research_albums.py); also in the File Meta Information (AE titles, private
information), in SR TEXT content items and overlay descriptions, and written differently (name
parts in other cases, initials, the ID's digits, the birth date's usual spellings) in the
descriptions the Clean Descriptors option keeps."""
from __future__ import annotations

import hashlib
import io

import pydicom
from pydicom.data import get_testdata_file
from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from chalicelib.dicom.deid_profile import DESCRIPTORS
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
IDENTITY = (0x00100010, 0x00100020)  # PatientName, PatientID: set by `planted` itself


BIRTH_DATE = "19430612"
BIRTH_DATE_SPELLINGS = ("1943-06-12", "12/06/1943", "06/12/1943", "12.06.1943", "12-JUN-1943", "12061943")


def free_text_marker(token: str) -> str:
    """Planted in free text (SR TEXT items, overlay description) beside the identifiers: gone from
    every copy unless Clean Descriptors keeps the cleaned text."""
    return f"{token}FREETEXT"


def _digits(token: str) -> str:
    return str(int.from_bytes(hashlib.sha256(token.encode()).digest()[:4], "big") % 9_000_000 + 1_000_000)


def identifying_text(token: str) -> tuple[list[str], set[str]]:
    """Phrases (each at most 64 characters) naming the patient of `planted` the ways people write
    it, and the values in them that no copy may show (compared case-insensitively)."""
    family, given, digits = f"{token}FAMILY", f"{token}GIVEN", _digits(token)
    first, second, third, fourth, fifth, sixth = BIRTH_DATE_SPELLINGS
    phrases = [f"seen {given.lower()} {family.title()}: {family}, {given} Q.",
               f"MRN {digits} born {first} or {second}", f"born {third} or {fourth}: {family}{given}",
               f"dob {fifth} ({sixth}), MRN 00{digits}"]
    return phrases, {family, given, digits, *BIRTH_DATE_SPELLINGS}


def _text_item(text: str) -> Dataset:
    concept = Dataset()
    concept.CodeValue, concept.CodingSchemeDesignator, concept.CodeMeaning = "121071", "DCM", "Finding"
    item = Dataset()
    item.RelationshipType, item.ValueType, item.TextValue = "CONTAINS", "TEXT", text
    item.ConceptNameCodeSequence = Sequence([concept])
    return item


def _plant_content_text(dataset: Dataset, text: str) -> None:
    """`text` in every TEXT content item, and in a new TEXT item (with a nested one) of the content."""
    for element in dataset.iterall():
        if element.keyword == "ContentSequence":
            for item in element.value:
                if item.get("ValueType") == "TEXT":
                    item.TextValue = text
    added = _text_item(text)
    added.ContentSequence = Sequence([_text_item(text)])
    dataset.ContentSequence = Sequence([*dataset.get("ContentSequence", []), added])


def planted(name: str, token: str, tags: list[int], *, nested: bool) -> tuple[Dataset, set[str]]:
    """A test file with a distinct identifying value in each of `tags` (and, when `nested`, in the
    same tags inside an item of a reference sequence), in its file meta, its SR text and overlay
    description, and written differently in its descriptions; new UIDs. The values planted."""
    dataset = pydicom.dcmread(get_testdata_file(name))
    dataset.PatientID = f"{token}-{_digits(token)}"
    dataset.PatientName = f"{token}FAMILY^{token}GIVEN^Q"
    phrases, values = identifying_text(token)
    for index, keyword in enumerate(DESCRIPTORS):  # kept and cleaned by Clean Descriptors; overwritten below if planted
        setattr(dataset, keyword, phrases[index % len(phrases)])
    dataset.ImageComments = " ".join(phrases)
    _plant_content_text(dataset, " ".join([*phrases, free_text_marker(token)]))
    dataset.add_new(0x60000022, "LO", f"{phrases[0].split(':')[0]} {free_text_marker(token)}")  # Overlay Description
    meta = dataset.file_meta
    meta.SourceApplicationEntityTitle, meta.SendingApplicationEntityTitle = f"{token}SRCAE", f"{token}SNDAE"
    meta.ReceivingApplicationEntityTitle = f"{token}RCVAE"
    meta.PrivateInformationCreatorUID = generate_uid()
    meta.PrivateInformation = f"{token}PRIVINFO".encode()
    values |= {f"{token}SRCAE", f"{token}SNDAE", f"{token}RCVAE", f"{token}PRIVINFO", str(meta.PrivateInformationCreatorUID)}
    tags = [t for t in tags if t not in IDENTITY]  # the patient the phrases name
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
        item.StudyDescription = phrases[1]  # a kept description nested: cleaned too
        item.ReferencedSOPClassUID = dataset.SOPClassUID
        item.ReferencedSOPInstanceUID = dataset.SOPInstanceUID
        dataset.ReferencedImageSequence = Sequence([item])
    dataset.PatientBirthDate = BIRTH_DATE
    values.add(BIRTH_DATE)
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


