"""DICOMweb through a real client: dicomweb-client's calls over pydicom's samples (multi-frame,
compressed transfer syntaxes, character sets, SR, a 50-instance series), metadata equal to
pydicom's own DICOM JSON, and the four requests OHIF makes to open a study."""
from __future__ import annotations

import io

import pydicom
import pytest
import requests
from PIL import Image

from tests.dicomweb_session import DICOMwebClient
from tests.integration import dicom_samples as samples

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def client_for(stack, token: str) -> DICOMwebClient:
    return DICOMwebClient(url=stack.api_url, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture(scope="module")
def stored(stack, tokens):
    """name -> (dataset, Part-10 bytes) of every sample alice stored through dicomweb-client."""
    names = list(samples.SAMPLES) + list(samples.CHARSETS)
    datasets = {name: samples.load(name) for name in names}
    client = client_for(stack, tokens("alice"))
    answer = client.store_instances(list(datasets.values()))
    assert "FailedSOPSequence" not in answer
    assert len(answer.ReferencedSOPSequence) == len(names)
    return {name: (ds, samples.part10(ds)) for name, ds in datasets.items()}


@pytest.fixture(scope="module")
def fifty(stack, tokens):
    """A 50-instance series stored in one multipart STOW."""
    bodies = samples.big_series(50, rows=64, columns=64)
    datasets = [pydicom.dcmread(io.BytesIO(b)) for b in bodies]
    client_for(stack, tokens("alice")).store_instances(datasets)
    return datasets


def uids(ds) -> tuple[str, str, str]:
    return str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID)


def test_store_then_search_at_every_level(stack, tokens, stored):
    client = client_for(stack, tokens("alice"))
    for name, (ds, _) in stored.items():
        study, series, sop = uids(ds)
        found = client.search_for_studies(search_filters={"StudyInstanceUID": study})
        assert [s["0020000D"]["Value"][0] for s in found] == [study], name
        assert client.search_for_series(study)[0]["0020000E"]["Value"] == [series]
        instances = client.search_for_instances(study, series)
        assert [i["00080018"]["Value"][0] for i in instances] == [sop]
        assert instances[0]["00083002"]["Value"] == [str(ds.file_meta.TransferSyntaxUID)]


def test_retrieve_instance_series_and_study_return_the_stored_bytes(stack, tokens, stored):
    client = client_for(stack, tokens("alice"))
    for name, (ds, _) in stored.items():
        study, series, sop = uids(ds)
        instance = client.retrieve_instance(study, series, sop)
        assert instance.SOPInstanceUID == sop, name
        if "PixelData" in ds:
            assert instance.PixelData == ds.PixelData, name
        assert [i.SOPInstanceUID for i in client.retrieve_series(study, series)] == [sop]
        assert [i.SOPInstanceUID for i in client.retrieve_study(study)] == [sop]


def test_character_sets_survive_the_round_trip(stack, tokens, stored):
    client = client_for(stack, tokens("alice"))
    for name in samples.CHARSETS:
        ds = stored[name][0]
        metadata = client.retrieve_instance_metadata(*uids(ds))
        assert metadata["00100010"]["Value"][0] == ds.to_json_dict()["00100010"]["Value"][0], name
        found = client.search_for_studies(search_filters={"StudyInstanceUID": str(ds.StudyInstanceUID)})
        assert found[0]["00100010"] == metadata["00100010"]


def _without_bulk_uris(document: dict) -> dict:
    out = {}
    for tag, element in document.items():
        element = dict(element)
        if "BulkDataURI" in element:
            element["BulkDataURI"] = "bulk"
        if element.get("vr") == "SQ":
            element["Value"] = [_without_bulk_uris(item) for item in element.get("Value", [])]
        out[tag] = element
    return out


def _empty_values_as_null(document: dict) -> dict:
    """pydicom's JSON with PS3.18 F.2.5's `null` for the empty values of multi-valued attributes
    (pydicom writes "")."""
    out = {}
    for tag, element in document.items():
        element = dict(element)
        values = element.get("Value")
        if element.get("vr") == "SQ":
            element["Value"] = [_empty_values_as_null(item) for item in values or []]
        elif values and len(values) > 1:
            element["Value"] = [None if value == "" else value for value in values]
        out[tag] = element
    return out


def test_instance_metadata_is_pydicoms_json_of_the_stored_file(stack, tokens, stored):
    client = client_for(stack, tokens("alice"))
    for name, (ds, data) in stored.items():
        study, series, sop = uids(ds)
        metadata = client.retrieve_instance_metadata(study, series, sop)
        stored_file = pydicom.dcmread(io.BytesIO(data))
        expected = stored_file.to_json_dict(bulk_data_threshold=1024, bulk_data_element_handler=lambda e: "bulk")
        assert _without_bulk_uris(metadata) == _empty_values_as_null(expected), name
        for tag, element in metadata.items():
            if "BulkDataURI" in element:
                assert element["BulkDataURI"].startswith(f"{stack.api_url}/studies/{study}/series/{series}/instances/{sop}/bulkdata/")
                value = client.retrieve_bulkdata(element["BulkDataURI"])
                assert value[0] == stored_file[tag].value, (name, tag)


def test_series_and_study_metadata_list_every_instance(stack, tokens, stored, fifty):
    client = client_for(stack, tokens("alice"))
    study, series, _ = uids(fifty[0])
    series_metadata = client.retrieve_series_metadata(study, series)
    assert sorted(m["00080018"]["Value"][0] for m in series_metadata) == sorted(str(d.SOPInstanceUID) for d in fifty)
    assert len(client.retrieve_study_metadata(study)) == 50
    ds = stored["emri_small.dcm"][0]
    assert client.retrieve_study_metadata(str(ds.StudyInstanceUID))[0]["00080018"]["Value"] == [str(ds.SOPInstanceUID)]


def test_fifty_instance_series(stack, tokens, fifty):
    client = client_for(stack, tokens("alice"))
    study, series, _ = uids(fifty[0])
    assert len(client.search_for_instances(study, series)) == 50
    page = client.search_for_instances(study, series, limit=20, offset=40)
    assert [int(i["00200013"]["Value"][0]) for i in page] == list(range(41, 51))
    retrieved = client.retrieve_series(study, series)
    assert sorted(int(d.InstanceNumber) for d in retrieved) == list(range(1, 51))
    assert {d.PixelData for d in retrieved} == {d.PixelData for d in fifty}
    found = client.search_for_studies(search_filters={"StudyInstanceUID": study})
    assert found[0]["00201208"]["Value"] == [50]


def test_frames_one_and_several(stack, tokens, stored):
    client = client_for(stack, tokens("alice"))
    ds = stored["emri_small.dcm"][0]
    frame_size = ds.Rows * ds.Columns * 2
    frames = client.retrieve_instance_frames(*uids(ds), frame_numbers=[2])
    assert frames == [ds.PixelData[frame_size:2 * frame_size]]
    frames = client.retrieve_instance_frames(*uids(ds), frame_numbers=[1, 10, 3])
    assert frames == [ds.PixelData[(n - 1) * frame_size:n * frame_size] for n in (1, 10, 3)]
    compressed = stored["emri_small_jpeg_2k_lossless.dcm"][0]
    expected = list(pydicom.encaps.generate_frames(compressed.PixelData, number_of_frames=10))
    assert client.retrieve_instance_frames(*uids(compressed), frame_numbers=[4], media_types=("application/octet-stream",)) == [expected[3]]


def test_rendered_and_thumbnails(stack, tokens, stored):
    client = client_for(stack, tokens("alice"))
    for name in ("CT_small.dcm", "emri_small.dcm", "emri_small_RLE.dcm", "emri_small_jpeg_2k_lossless.dcm",
                 "SC_rgb_jpeg_dcmtk.dcm", "JPGLosslessP14SV1_1s_1f_8b.dcm"):
        ds = stored[name][0]
        study, series, sop = uids(ds)
        jpeg = Image.open(io.BytesIO(client.retrieve_instance_rendered(study, series, sop)))
        assert jpeg.format == "JPEG" and jpeg.size == (ds.Columns, ds.Rows), name
        png = client.retrieve_instance_rendered(study, series, sop, media_types=("image/png",))
        assert Image.open(io.BytesIO(png)).format == "PNG"
        frame = client.retrieve_instance_frames_rendered(study, series, sop, frame_numbers=[1])
        assert Image.open(io.BytesIO(frame)).format == "JPEG"
        assert Image.open(io.BytesIO(client.retrieve_series_rendered(study, series))).format == "JPEG"
        auth = {"Authorization": f"Bearer {tokens('alice')}"}
        thumbnail = requests.get(f"{stack.api_url}/studies/{study}/series/{series}/thumbnail", headers=auth, timeout=30)
        assert max(Image.open(io.BytesIO(thumbnail.content)).size) <= 128
        windowed = requests.get(f"{stack.api_url}/studies/{study}/series/{series}/instances/{sop}/rendered",
                                params={"window": "100,50"}, headers=auth, timeout=30)
        assert windowed.status_code == 200 and windowed.headers["Content-Type"] == "image/jpeg"


def test_unrenderable_objects_answer_406(stack, tokens, stored):
    auth = {"Authorization": f"Bearer {tokens('alice')}"}
    study, series, sop = uids(stored["test-SR.dcm"][0])
    answer = requests.get(f"{stack.api_url}/studies/{study}/series/{series}/instances/{sop}/rendered",
                          headers=auth, timeout=30)
    assert answer.status_code == 406


def test_wado_uri(stack, tokens, stored):
    ds, data = stored["CT_small.dcm"]
    study, series, sop = uids(ds)
    auth = {"Authorization": f"Bearer {tokens('alice')}"}
    params = {"requestType": "WADO", "studyUID": study, "seriesUID": series, "objectUID": sop}
    dicom = requests.get(f"{stack.api_url}/wado", params={**params, "contentType": "application/dicom"},
                         headers=auth, timeout=30)
    assert dicom.status_code == 200 and dicom.content == data
    assert dicom.headers["Content-Type"] == "application/dicom"
    jpeg = requests.get(f"{stack.api_url}/wado", params=params, headers=auth, timeout=30)
    assert Image.open(io.BytesIO(jpeg.content)).format == "JPEG"
    missing = requests.get(f"{stack.api_url}/wado", params={"requestType": "WADO", "studyUID": study},
                           headers=auth, timeout=30)
    assert missing.status_code == 400


def test_zip_of_a_study(stack, tokens, fifty):
    import zipfile

    study = str(fifty[0].StudyInstanceUID)
    auth = {"Authorization": f"Bearer {tokens('alice')}"}
    for kwargs in ({"headers": {**auth, "Accept": "application/zip"}},
                   {"headers": auth, "params": {"accept": "application/zip"}}):
        answer = requests.get(f"{stack.api_url}/studies/{study}", timeout=60, **kwargs)
        assert answer.status_code == 200
        assert answer.headers["Content-Type"] == "application/zip"
        assert 'filename="DICOM.ZIP"' in answer.headers["Content-Disposition"]
        archive = zipfile.ZipFile(io.BytesIO(answer.content))
        assert len(archive.namelist()) == 50 and archive.namelist()[0] == "DICOM/0/1"
        first = pydicom.dcmread(io.BytesIO(archive.read("DICOM/0/1")))
        assert first.StudyInstanceUID == study


def test_what_cannot_be_served_is_406(stack, tokens, stored):
    ds = stored["CT_small.dcm"][0]
    study, series, sop = uids(ds)
    auth = {"Authorization": f"Bearer {tokens('alice')}"}
    base = f"{stack.api_url}/studies/{study}/series/{series}/instances/{sop}"
    cases = [
        (base, 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50'),
        (base, "image/jpeg"),
        (base + "/metadata", "application/dicom+xml"),
        (base + "/frames/1", 'multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.4.90'),
        (base + "/rendered", "image/tiff"),
    ]
    for url, accept in cases:
        answer = requests.get(url, headers={**auth, "Accept": accept}, allow_redirects=False, timeout=30)
        assert answer.status_code == 406, (url, accept, answer.status_code)
    ok = requests.get(base, headers={**auth, "Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'},
                      allow_redirects=False, timeout=30)
    assert ok.status_code == 303


def test_metadata_etag_and_conditional_get(stack, tokens, stored):
    ds = stored["MR_small.dcm"][0]
    study, series, sop = uids(ds)
    auth = {"Authorization": f"Bearer {tokens('alice')}"}
    for url in (f"{stack.api_url}/studies/{study}/metadata",
                f"{stack.api_url}/studies/{study}/series/{series}/metadata",
                f"{stack.api_url}/studies/{study}/series/{series}/instances/{sop}/metadata"):
        first = requests.get(url, headers=auth, timeout=30)
        assert first.status_code == 200 and first.headers["ETag"]
        again = requests.get(url, headers={**auth, "If-None-Match": first.headers["ETag"]}, timeout=30)
        assert again.status_code == 304 and again.content == b""
        other = requests.get(url, headers={**auth, "If-None-Match": '"stale"'}, timeout=30)
        assert other.status_code == 200 and other.json() == first.json()


def test_bob_sees_none_of_it(stack, tokens, stored):
    client = client_for(stack, tokens("bob"))
    ds = stored["CT_small.dcm"][0]
    study, series, sop = uids(ds)
    assert client.search_for_studies(search_filters={"StudyInstanceUID": study}) == []
    auth = {"Authorization": f"Bearer {tokens('bob')}"}
    for path in (f"/studies/{study}", f"/studies/{study}/metadata", f"/studies/{study}/series/{series}/metadata",
                 f"/studies/{study}/series/{series}/instances/{sop}/frames/1",
                 f"/studies/{study}/series/{series}/instances/{sop}/rendered", f"/studies/{study}/series"):
        answer = requests.get(stack.api_url + path, headers=auth, allow_redirects=False, timeout=30)
        assert answer.status_code == 404, path


def test_the_four_requests_ohif_makes(stack, tokens, stored):
    """OHIF's DICOMweb data source: study list, series list, series metadata, frames."""
    ds = stored["emri_small.dcm"][0]
    study, series, sop = uids(ds)
    auth = {"Authorization": f"Bearer {tokens('alice')}"}
    studies = requests.get(f"{stack.api_url}/studies", headers={**auth, "Accept": "application/dicom+json"},
                           params={"limit": "101", "offset": "0", "fuzzymatching": "false",
                                   "includefield": "00081030,00080060"}, timeout=30)
    assert studies.status_code == 200 and studies.headers["Content-Type"] == "application/dicom+json"
    mine = next(s for s in studies.json() if s["0020000D"]["Value"] == [study])
    assert mine["00080061"]["Value"] == ["MR"] and mine["00201208"]["Value"] == [1]
    series_list = requests.get(f"{stack.api_url}/studies/{study}/series", headers=auth, timeout=30).json()
    assert series_list[0]["0020000E"]["Value"] == [series] and series_list[0]["00080060"]["Value"] == ["MR"]
    metadata = requests.get(f"{stack.api_url}/studies/{study}/series/{series}/metadata", headers=auth, timeout=30)
    assert metadata.headers["Content-Type"] == "application/dicom+json"
    assert metadata.json()[0]["00280008"]["Value"] == [10]
    frame = requests.get(f"{stack.api_url}/studies/{study}/series/{series}/instances/{sop}/frames/1",
                         headers={**auth, "Accept": "multipart/related; type=application/octet-stream; transfer-syntax=*"},
                         timeout=30)
    assert frame.status_code == 200
    assert frame.headers["Content-Type"].startswith('multipart/related; type="application/octet-stream"')
    assert ds.PixelData[:ds.Rows * ds.Columns * 2] in frame.content


def test_capability_urls_keep_link_prefix_in_metadata(stack, tokens, stored):
    """BulkDataURIs point back at the API so that every read is authorized; the base URL the
    client used is kept (checked here without a link token: the canonical /api base)."""
    ds = stored["CT_small.dcm"][0]
    study, series, sop = uids(ds)
    metadata = client_for(stack, tokens("alice")).retrieve_instance_metadata(study, series, sop)
    uri = metadata["7FE00010"]["BulkDataURI"]
    assert requests.get(uri, allow_redirects=False, timeout=30).status_code == 401


def test_streaming_variants_of_the_client(stack, tokens, stored, fifty):
    """dicomweb-client's iter_* calls read the same answers as streams."""
    client = client_for(stack, tokens("alice"))
    study, series, _ = uids(fifty[0])
    assert sorted(int(d.InstanceNumber) for d in client.iter_series(study, series)) == list(range(1, 51))
    assert len(list(client.iter_study(study))) == 50
    ds = stored["emri_small.dcm"][0]
    frame_size = ds.Rows * ds.Columns * 2
    assert list(client.iter_instance_frames(*uids(ds), frame_numbers=[5])) == [ds.PixelData[4 * frame_size:5 * frame_size]]
    uri = client.retrieve_instance_metadata(*uids(ds))["7FE00010"]["BulkDataURI"]
    assert b"".join(client.iter_bulkdata(uri)) == ds.PixelData


# ---- edge cases of pixel data: every frame answer is the frame, or a 404 in the error shape ----------


def _crafted(rows: int, columns: int, *, syntax: str = "1.2.840.10008.1.2.1", bits: int = 8, frames: int | None = None,
             **elements) -> pydicom.Dataset:
    """A new secondary-capture instance with these pixel attributes (pixel data given in `elements`)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import generate_uid

    meta = FileMetaDataset()
    meta.TransferSyntaxUID, meta.MediaStorageSOPClassUID = syntax, "1.2.840.10008.5.1.4.1.1.7"
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.StudyInstanceUID, ds.SeriesInstanceUID = meta.MediaStorageSOPClassUID, generate_uid(), generate_uid()
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.PatientID, ds.Modality, ds.Rows, ds.Columns = "EDGE", "OT", rows, columns
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, bits, bits - 1, 0
    if frames is not None:
        ds.NumberOfFrames = frames
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    return ds


def _stow_bytes(stack, token: str, ds: pydicom.Dataset) -> bytes:
    """Stores the dataset as a Part-10 file; returns the file's bytes."""
    out = io.BytesIO()
    pydicom.dcmwrite(out, ds, enforce_file_format=True)
    data = out.getvalue()
    body = b"--b\r\nContent-Type: application/dicom\r\n\r\n" + data + b"\r\n--b--\r\n"
    answer = requests.post(f"{stack.api_url}/studies", data=body, timeout=60,
                           headers={"Authorization": f"Bearer {token}", "Accept": "application/dicom+json",
                                    "Content-Type": 'multipart/related; type="application/dicom"; boundary=b'})
    assert answer.status_code == 200, answer.text
    return data


def _frame(stack, token: str, ds: pydicom.Dataset, number: int, suffix: str = "") -> requests.Response:
    study, series, sop = uids(ds)
    accept = "image/png" if suffix else "multipart/related; type=application/octet-stream; transfer-syntax=*"
    return requests.get(f"{stack.api_url}/studies/{study}/series/{series}/instances/{sop}/frames/{number}{suffix}",
                        headers={"Authorization": f"Bearer {token}", "Accept": accept}, timeout=60)


def _payload(answer: requests.Response) -> bytes:
    """The content of a one-part multipart/related answer."""
    boundary = answer.headers["Content-Type"].split("boundary=")[1].split(";")[0].strip('"')
    body = answer.content
    return body[body.index(b"\r\n\r\n") + 4:body.rindex(b"\r\n--" + boundary.encode() + b"--")]


def _is_frame_not_found(answer: requests.Response) -> bool:
    return answer.status_code == 404 and set(answer.json()) >= {"message", "detail"}


def test_a_rendered_image_above_1_mb_is_a_redirect_to_the_cache(stack, tokens):
    """0 pixel bytes through the function above 1 MB: a large PNG is cached and redirected to."""
    import numpy as np

    noise = np.random.default_rng(7).integers(0, 256, (1200, 1200), dtype=np.uint8)
    ds = _crafted(1200, 1200, PixelData=noise.tobytes())
    _stow_bytes(stack, tokens("alice"), ds)
    study, series, sop = uids(ds)
    url = f"{stack.api_url}/studies/{study}/series/{series}/instances/{sop}/rendered"
    headers = {"Authorization": f"Bearer {tokens('alice')}", "Accept": "image/png"}
    for _ in range(2):  # rendered once, then the cached image
        answer = requests.get(url, headers=headers, allow_redirects=False, timeout=60)
        assert answer.status_code == 303 and not answer.content, (answer.status_code, len(answer.content))
        image = requests.get(answer.headers["Location"], timeout=60).content
        assert image.startswith(b"\x89PNG") and len(image) > 1_000_000
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(image))), noise)


def test_a_frame_past_the_last_is_not_found_rendered_too(stack, tokens, stored):
    ds = stored["CT_small.dcm"][0]
    assert _is_frame_not_found(_frame(stack, tokens("alice"), ds, 99))
    assert _is_frame_not_found(_frame(stack, tokens("alice"), ds, 99, "/rendered"))
    assert _frame(stack, tokens("alice"), ds, 1, "/rendered").status_code == 200


def test_an_empty_pixel_data_element_is_stored_and_read_back_identical(stack, tokens):
    ds = _crafted(4, 4, PixelData=b"")
    data = _stow_bytes(stack, tokens("alice"), ds)
    study, series, sop = uids(ds)
    back = requests.get(f"{stack.api_url}/wado", timeout=60,
                        params={"requestType": "WADO", "studyUID": study, "seriesUID": series, "objectUID": sop,
                                "contentType": "application/dicom"},
                        headers={"Authorization": f"Bearer {tokens('alice')}"})
    assert back.status_code == 200 and back.content == data
    assert _is_frame_not_found(_frame(stack, tokens("alice"), ds, 1))


def test_1_bit_frames_not_ending_on_a_byte_are_cut_bit_for_bit(stack, tokens):
    import numpy as np

    bits = np.random.default_rng(3).integers(0, 2, 75, dtype=np.uint8)  # 3 frames of 5 x 5
    ds = _crafted(5, 5, bits=1, frames=3, PixelData=np.packbits(bits, bitorder="little").tobytes())
    _stow_bytes(stack, tokens("alice"), ds)
    for number in (1, 2, 3):
        answer = _frame(stack, tokens("alice"), ds, number)
        assert answer.status_code == 200, number
        expected = np.packbits(bits[(number - 1) * 25:number * 25], bitorder="little").tobytes()
        assert _payload(answer) == expected, number
    assert _is_frame_not_found(_frame(stack, tokens("alice"), ds, 4))


def test_float_pixel_data_frames_are_served(stack, tokens):
    import numpy as np

    values = np.arange(2 * 4 * 4, dtype=np.float32) / 3
    ds = _crafted(4, 4, bits=32, frames=2, FloatPixelData=values.tobytes())
    del ds.BitsStored, ds.HighBit, ds.PixelRepresentation
    _stow_bytes(stack, tokens("alice"), ds)
    answer = _frame(stack, tokens("alice"), ds, 2)
    assert answer.status_code == 200 and _payload(answer) == values[16:].tobytes()


def test_frames_named_by_number_of_frames_but_absent_from_the_data_are_not_found(stack, tokens):
    from pydicom.encaps import encapsulate

    native = _crafted(16, 16, frames=5, PixelData=bytes(range(256)) * 2)  # data for 2 frames
    jpeg = _crafted(16, 16, syntax="1.2.840.10008.1.2.4.50", frames=4,
                    PixelData=encapsulate([b"\xff\xd8frame-one\xff\xd9", b"\xff\xd8frame-two\xff\xd9"]))
    for ds in (native, jpeg):
        _stow_bytes(stack, tokens("alice"), ds)
        assert _frame(stack, tokens("alice"), ds, 2).status_code == 200
        assert _is_frame_not_found(_frame(stack, tokens("alice"), ds, 3))
    assert _payload(_frame(stack, tokens("alice"), native, 2)) == bytes(range(256))


def test_dicomweb_client_without_the_documented_session_is_refused_along_the_redirect(stack, tokens, stored):
    """dicomweb-client sends its own `Host` (the API's) with every GET and requests keeps it along
    Obelisk's 303 to the presigned S3 URL, whose signature covers the host: S3 refuses it, and so
    does the emulator (it accepted it until round 14's fixes). With the session docs/dicomweb.md
    gives (`tests/dicomweb_session.py`), the same retrieval succeeds."""
    from dicomweb_client.api import DICOMwebClient as PlainClient

    dataset, _ = next(iter(stored.values()))
    uids = str(dataset.StudyInstanceUID), str(dataset.SeriesInstanceUID), str(dataset.SOPInstanceUID)
    plain = PlainClient(url=stack.api_url, headers={"Authorization": f"Bearer {tokens('alice')}"})
    with pytest.raises(requests.HTTPError) as refused:
        plain.retrieve_instance(*uids)
    assert refused.value.response.status_code == 403
    assert "SignatureDoesNotMatch" in refused.value.response.text
    assert str(client_for(stack, tokens("alice")).retrieve_instance(*uids).SOPInstanceUID) == uids[2]
