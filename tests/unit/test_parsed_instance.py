"""Ingest parses an instance once (chalicelib/services/parsed.py): the one conversion to DICOM JSON
gives both the stored metadata document and the attributes the checks and index rows read, exactly
as the separate conversions did (`json_model.metadata`, `json_model.to_json`), sequences, bulk
values and empty multi-values included (a bulk value inside a sequence keeps its URI, which no
index row reads); the attributes share no value with the stored document;
the frames are those `frames.frames` cuts. Nothing here talks to AWS."""
from __future__ import annotations

import io
from unittest import mock

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from chalicelib.dicom import frames, json_model
from chalicelib.services import parsed
from chalicelib.services.parsed import canonical_instance_url

FILES = ["CT_small.dcm", "test-SR.dcm", "emri_small_jpeg_2k_lossless.dcm", "SC_rgb_rle_2frame.dcm"]


def with_bulk_values(name: str) -> bytes:
    """A test file with a top-level and a nested binary value over the bulk threshold and a
    multi-valued attribute with an empty value."""
    dataset = pydicom.dcmread(get_testdata_file(name))
    dataset.add_new(0x00091010, "OB", b"\x01" * 4000)
    item = Dataset()
    item.add_new(0x00091011, "OB", b"\x02" * 3000)
    item.CodeValue = "X"
    dataset.add_new(0x00091012, "SQ", [item])
    dataset.ImageType = ["ORIGINAL", "", "AXIAL"]
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def part10(name: str) -> bytes:
    return open(get_testdata_file(name), "rb").read()


@pytest.mark.parametrize("data", [part10(n) for n in FILES] + [with_bulk_values("CT_small.dcm")],
                         ids=[*FILES, "bulk values"])
def test_one_conversion_gives_the_document_and_the_index_attributes_as_two_did(data):
    instance = parsed.parse(data)
    fresh = pydicom.dcmread(io.BytesIO(data))
    url = canonical_instance_url(str(fresh.StudyInstanceUID), str(fresh.SeriesInstanceUID), str(fresh.SOPInstanceUID))
    assert instance.document == json_model.metadata(fresh, url)
    separate = json_model.to_json(pydicom.dcmread(io.BytesIO(data)))
    assert instance.attributes.keys() == separate.keys()
    # A bulk value inside a sequence keeps its URI here ("" there); the index reads no sequence.
    assert {t: v for t, v in instance.attributes.items() if v["vr"] != "SQ"} == \
        {t: v for t, v in separate.items() if v["vr"] != "SQ"}
    assert json_model.indexable(instance.attributes) == json_model.indexable(separate)
    assert instance.frames == tuple(frames.frames(fresh))
    assert instance.uids == tuple(str(fresh.get(k)) for k in parsed.UID_KEYWORDS)


def test_each_instance_is_converted_once():
    encode = json_model.encode
    top_level: list[object] = []

    def counting(dataset, bulk_data_uri):
        if hasattr(dataset, "file_meta"):
            top_level.append(dataset)
        return encode(dataset, bulk_data_uri)

    with mock.patch.object(json_model, "encode", counting):
        instance = parsed.parse(with_bulk_values("CT_small.dcm"))
    assert top_level == [instance.dataset]


def test_the_index_attributes_share_no_value_with_the_stored_document():
    instance = parsed.parse(part10("CT_small.dcm"))
    stored = repr(instance.document)
    instance.attributes["00100010"]["Value"][0]["Alphabetic"] = "Changed^Here"
    instance.attributes["00080008"]["Value"].append("EXTRA")
    assert repr(instance.document) == stored


def test_a_coerced_instance_is_encoded_and_converted_again_from_its_changed_dataset():
    instance = parsed.parse(part10("CT_small.dcm"))
    instance.dataset.AccessionNumber = "A-42"
    coerced = instance.coerced(json_model.to_json(instance.dataset))
    again = pydicom.dcmread(io.BytesIO(coerced.data))
    assert again.AccessionNumber == "A-42" and coerced.frames == instance.frames
    assert json_model.text_value(coerced.document, "AccessionNumber") == "A-42"
    assert json_model.text_value(coerced.attributes, "AccessionNumber") == "A-42"
