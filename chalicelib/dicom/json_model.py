"""DICOM JSON (PS3.18 Annex F) through pydicom's own encoder, and the attribute sets that each
QIDO level returns."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pydicom is imported where it is used: a cold start of routes without DICOM skips it
    from pydicom.dataelem import DataElement
    from pydicom.dataset import Dataset

BULK_DATA_THRESHOLD = 1024

PATIENT_STUDY_KEYWORDS = (
    "SpecificCharacterSet", "StudyDate", "StudyTime", "AccessionNumber", "ReferringPhysicianName",
    "TimezoneOffsetFromUTC", "PatientName", "PatientID", "PatientBirthDate", "PatientSex",
    "StudyInstanceUID", "StudyID", "StudyDescription", "IssuerOfPatientID", "PatientAge",
)
SERIES_KEYWORDS = (
    "Modality", "SeriesInstanceUID", "SeriesNumber", "SeriesDescription", "SeriesDate", "SeriesTime",
    "BodyPartExamined", "PerformedProcedureStepStartDate", "PerformedProcedureStepStartTime",
    "Laterality", "Manufacturer",
)
INSTANCE_KEYWORDS = (
    "SOPClassUID", "SOPInstanceUID", "InstanceNumber", "Rows", "Columns", "BitsAllocated",
    "NumberOfFrames", "ContentDate", "ContentTime", "ImageType", "PhotometricInterpretation",
)


@functools.lru_cache(maxsize=4096)
def tag_hex(keyword_or_tag: str) -> str | None:
    """`PatientName` or `00100010` -> `00100010`; None when unknown. Remembered: answers look up
    the same few keywords for every item (a study list of 101, ~300 times)."""
    value = keyword_or_tag.strip()
    if len(value) == 8 and all(c in "0123456789abcdefABCDEF" for c in value):
        return value.upper()
    from pydicom.datadict import tag_for_keyword

    tag = tag_for_keyword(value)
    return f"{tag:08X}" if tag is not None else None


def keyword_of(tag: str) -> str:
    from pydicom.datadict import keyword_for_tag

    return keyword_for_tag(int(tag, 16)) or tag


def _has_empty_value(elem: DataElement) -> bool:
    return elem.VR not in _BINARY_VRS and elem.VM > 1 and any(str(v) == "" for v in elem.value)


_BINARY_VRS = ("SQ", "OB", "OD", "OF", "OL", "OV", "OW", "UN", "AT")


def _with_nulls(elem: DataElement) -> dict:
    """A multi-valued element with empty values: `null` for each (PS3.18 F.2.5), the others as
    pydicom encodes them (pydicom writes "" or fails on numbers and person names)."""
    from pydicom.dataelem import DataElement

    def one(value):
        return None if str(value) == "" else DataElement(elem.tag, elem.VR, value).to_json_dict(None, 0)["Value"][0]

    return {"vr": elem.VR, "Value": [one(v) for v in elem.value]}


def encode(dataset: Dataset, bulk_data_uri: Callable[[DataElement], str]) -> dict:
    """pydicom's DICOM JSON of the dataset, with empty values of multi-valued attributes written as
    `null`, sequences included."""
    encoded = {}
    for elem in dataset:
        tag = f"{elem.tag:08X}"
        if elem.VR == "SQ":
            encoded[tag] = {"vr": "SQ", "Value": [encode(item, bulk_data_uri) for item in elem.value]}
        elif _has_empty_value(elem):
            encoded[tag] = _with_nulls(elem)
        else:
            encoded[tag] = elem.to_json_dict(bulk_data_uri, BULK_DATA_THRESHOLD)
    return encoded


def to_json(dataset: Dataset, bulk_data_uri: Callable[[DataElement], str] | None = None) -> dict:
    """The dataset as DICOM JSON. With `bulk_data_uri`, values over the threshold and pixel data
    become BulkDataURIs; without it they are left out."""
    if bulk_data_uri is None:
        def bulk_data_uri(_element: DataElement) -> str:
            return ""
    encoded = encode(dataset, bulk_data_uri)
    return {tag: value for tag, value in encoded.items() if value.get("BulkDataURI", None) != ""}


def subset(attributes: dict, keywords: tuple[str, ...]) -> dict:
    wanted = {tag_hex(k) for k in keywords}
    return {tag: value for tag, value in attributes.items() if tag in wanted}


def element(vr: str, *values) -> dict:
    """One DICOM JSON element; no Value member when there are no values."""
    return {"vr": vr, "Value": list(values)} if values else {"vr": vr}


def first_value(attributes: dict, keyword: str):
    values = attributes.get(tag_hex(keyword), {}).get("Value") or [None]
    return values[0]


def text_value(attributes: dict, keyword: str) -> str:
    """A value as matching and sorting see it; person names by their Alphabetic group."""
    value = first_value(attributes, keyword)
    if isinstance(value, dict):
        return value.get("Alphabetic", "")
    return "" if value is None else str(value)


def vr_of(tag: str) -> str:
    from pydicom.datadict import dictionary_VR

    try:
        return dictionary_VR(int(tag, 16))
    except KeyError:
        return "UN"


def bulk_paths(dataset: Dataset, prefix: str = "") -> dict[int, str]:
    """`id(element)` -> its tag path (`00880200.0.7FE00010`) for every element, sequences
    included, so that a BulkDataURI can name the element it stands for."""
    paths: dict[int, str] = {}
    for elem in dataset:  # iterating converts raw elements, so the ids stay stable afterwards
        path = f"{prefix}{elem.tag:08X}"
        paths[id(elem)] = path
        if elem.VR == "SQ":
            for index, item in enumerate(elem.value):
                paths.update(bulk_paths(item, f"{path}.{index}."))
    return paths


def bulk_elements(dataset: Dataset) -> list[tuple[str, bytes]]:
    """(tag path, value) of every element the metadata answers with a BulkDataURI."""
    paths = bulk_paths(dataset)
    found: list[tuple[str, bytes]] = []

    def collect(elem: DataElement) -> str:
        found.append((paths[id(elem)], bytes(elem.value)))
        return "x"

    encode(dataset, collect)
    return found


def metadata(dataset: Dataset, instance_url: str) -> dict:
    """WADO-RS metadata of one instance: pydicom's DICOM JSON with each bulk value replaced by
    `{instance_url}/bulkdata/{tag path}`."""
    paths = bulk_paths(dataset)
    return encode(dataset, lambda elem: f"{instance_url}/bulkdata/{paths[id(elem)]}")


INDEXED_VALUE_LIMIT = 1024
INDEXED_TOTAL_LIMIT = 64 * 1024


def indexable(attributes: dict) -> dict:
    """The top-level, non-sequence, non-binary attributes of an instance, within DynamoDB-friendly
    bounds: what instance-level QIDO can match and `includefield=all` can return."""
    out: dict = {}
    total = 0
    for tag, value in attributes.items():
        if value.get("vr") in ("SQ", "OB", "OW", "OF", "OD", "OL", "OV", "UN") or tag.startswith("7FE0"):
            continue
        size = len(str(value))
        if size > INDEXED_VALUE_LIMIT or total + size > INDEXED_TOTAL_LIMIT:
            continue
        out[tag] = value
        total += size
    return out
