"""Pure DICOMweb logic: Accept negotiation, multipart round trip, frames, bulk-data paths, QIDO
matching and includefield parsing."""
from __future__ import annotations

import pydicom
import pytest
from pydicom.data import get_testdata_file

from chalicelib.dicom import frames, json_model, matching, multipart, negotiation, qido
from chalicelib.errors import BadQueryParameter, BadRequest, NotAcceptable

EXPLICIT = "1.2.840.10008.1.2.1"


def test_dicom_retrieval_negotiation():
    ranges = negotiation.ranges
    assert negotiation.dicom_retrieval(ranges(None), {EXPLICIT}) == "multipart"
    assert negotiation.dicom_retrieval(ranges('multipart/related; type="application/dicom"; transfer-syntax=*'), {EXPLICIT}) == "multipart"
    assert negotiation.dicom_retrieval(ranges(f"multipart/related; type=application/dicom; transfer-syntax={EXPLICIT}"), {EXPLICIT}) == "multipart"
    assert negotiation.dicom_retrieval(ranges("application/zip"), {EXPLICIT}, allow_zip=True) == "zip"
    assert negotiation.dicom_retrieval(ranges("text/html", "application/zip"), {EXPLICIT}, allow_zip=True) == "zip"
    with pytest.raises(NotAcceptable):
        negotiation.dicom_retrieval(ranges('multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50'), {EXPLICIT})
    with pytest.raises(NotAcceptable):
        negotiation.dicom_retrieval(ranges("application/zip"), {EXPLICIT})


def test_rendered_and_metadata_negotiation():
    assert negotiation.rendered(negotiation.ranges("image/png, image/jpeg;q=0.5")) == "image/png"
    assert negotiation.rendered(negotiation.ranges("image/png;q=0.1, image/jpeg")) == "image/jpeg"
    assert negotiation.rendered(negotiation.ranges("*/*")) == "image/jpeg"
    with pytest.raises(NotAcceptable):
        negotiation.rendered(negotiation.ranges("image/tiff"))
    negotiation.metadata(negotiation.ranges("application/dicom+json"))
    with pytest.raises(NotAcceptable):
        negotiation.metadata(negotiation.ranges("multipart/related; type=application/dicom+xml"))


def test_multipart_round_trip_and_refusals():
    body = multipart.build([("application/dicom", b"one\r\n--x"), ("application/dicom", b"two")], "b")
    parts = multipart.parse(body, "multipart/related; boundary=b")
    assert [p.body for p in parts] == [b"one\r\n--x", b"two"]
    for bad, content_type in ((body, "multipart/related; boundary=c"), (body[:-6], "multipart/related; boundary=b"),
                              (b"", "multipart/related; boundary=b"), (body, "multipart/related")):
        with pytest.raises(BadRequest):
            multipart.parse(bad, content_type)


def test_frames_of_a_multiframe_and_an_encapsulated_object():
    native = pydicom.dcmread(get_testdata_file("emri_small.dcm"))
    split = list(frames.frames(native))
    assert len(split) == 10 and b"".join(split) == native.PixelData
    compressed = pydicom.dcmread(get_testdata_file("emri_small_jpeg_2k_lossless.dcm"))
    assert len(list(frames.frames(compressed))) == 10
    assert list(frames.frames(pydicom.dcmread(get_testdata_file("test-SR.dcm")))) == []


def test_bulk_uris_name_the_element_path():
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    document = json_model.metadata(dataset, "https://x/api/studies/1/series/2/instances/3")
    assert document["7FE00010"]["BulkDataURI"] == "https://x/api/studies/1/series/2/instances/3/bulkdata/7FE00010"
    paths = dict(json_model.bulk_elements(dataset))
    assert paths["7FE00010"] == dataset.PixelData


def test_matching_kinds():
    attributes = {"00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^Jane"}]},
                  "00080020": {"vr": "DA", "Value": ["20240105"]},
                  "0020000D": {"vr": "UI", "Value": ["1.2.3"]}}

    def match(name, value, fuzzy=False):
        return matching.matches_all(attributes, matching.parse_criteria({name: [value]}), fuzzy)

    assert match("PatientName", "doe*") and match("PatientName", "D?e^Jane") and not match("PatientName", "Doe")
    assert match("PatientName", "Smith\\Doe^Jane") and match("PatientName", "jane", fuzzy=True)
    assert match("StudyDate", "20240101-20240131") and not match("StudyDate", "20240201-")
    assert match("StudyInstanceUID", "9.9,1.2.3") and not match("StudyInstanceUID", "1.2")


def test_includefield_parsing():
    fields = qido.parse_includefields({"includefield": ["00081030,Modality", "favorite", "all"]})
    assert fields.everything and fields.tags == {"00081030", "00080060"} and fields.custom == {qido.FAVORITE_TAG}
    with pytest.raises(BadQueryParameter):
        qido.parse_includefields({"includefield": ["NoSuchKeyword"]})


def test_capability_urls_keep_their_link_prefix_in_stored_metadata():
    from chalicelib.config import settings
    from chalicelib.services.retrieve import _rewrite

    canonical = settings().api_url
    body = f'[{{"7FE00010": {{"vr": "OW", "BulkDataURI": "{canonical}/studies/1/series/2/instances/3/bulkdata/7FE00010"}}}}]'.encode()
    linked = _rewrite(body, f"{canonical}/link/TOKEN")
    assert f"{canonical}/link/TOKEN/studies/1/series/2/instances/3/bulkdata/7FE00010".encode() in linked
    assert _rewrite(body, canonical) == body
