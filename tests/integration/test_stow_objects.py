"""What a STOW writes with the lean PutObject (`store.s3_put`) and the shared writer pool
(`store.aws`): the skeleton and the frames, no metadata document; the objects S3 holds have the
headers a read relies on, and every instance, frame and metadata document comes back through WADO
exactly as sent, the documents (derived on their first read, docs/storage.md) as STOW converted
them, in a series stored whole and in one grown an instance at a time."""
from __future__ import annotations

import gzip
import io
import json
import time

import boto3
import numpy as np
import pydicom
import pytest
import requests
from pydicom.uid import generate_uid

from devstack.demo import multipart_body
from devstack.in_process import service_layer
from tests.integration import dicom_samples as samples

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
INSTANCE = 'multipart/related; type="application/dicom"; transfer-syntax=*'
FRAME = "multipart/related; type=application/octet-stream; transfer-syntax=*"


def _multipart(files: list[bytes]) -> bytes:
    parts = b"".join(b"--b\r\nContent-Type: application/dicom\r\n\r\n" + f + b"\r\n" for f in files)
    return parts + b"--b--\r\n"


def _payload(answer: requests.Response) -> bytes:
    boundary = answer.headers["Content-Type"].split("boundary=")[1].split(";")[0].strip('"')
    body = answer.content
    return body[body.index(b"\r\n\r\n") + 4:body.rindex(b"\r\n--" + boundary.encode() + b"--")]


@pytest.fixture(scope="module")
def stored(stack, tokens):
    files = samples.big_series(8, rows=256, columns=256)
    answer = requests.post(f"{stack.api_url}/studies", data=_multipart(files), timeout=120, headers={
        "Authorization": f"Bearer {tokens('alice')}", "Accept": "application/dicom+json",
        "Content-Type": 'multipart/related; type="application/dicom"; boundary=b'})
    assert answer.status_code == 200, answer.text
    return [(pydicom.dcmread(io.BytesIO(f)), f) for f in files]


def test_each_instance_its_frame_and_its_metadata_come_back_as_sent(stack, tokens, stored):
    auth = {"Authorization": f"Bearer {tokens('alice')}"}
    for dataset, data in stored:
        base = (f"{stack.api_url}/studies/{dataset.StudyInstanceUID}/series/{dataset.SeriesInstanceUID}"
                f"/instances/{dataset.SOPInstanceUID}")
        instance = requests.get(base, headers={**auth, "Accept": INSTANCE}, timeout=60)
        assert instance.status_code == 200 and _payload(instance) == data
        frame = requests.get(base + "/frames/1", headers={**auth, "Accept": FRAME}, timeout=60)
        assert frame.status_code == 200 and _payload(frame) == dataset.PixelData
        metadata = requests.get(base + "/metadata", headers=auth, timeout=60)
        assert metadata.status_code == 200
        assert metadata.json()[0]["00080018"]["Value"] == [dataset.SOPInstanceUID]


def _bucket(stack):
    s3 = boto3.client("s3", endpoint_url=stack.emulator_url, region_name="us-east-1",
                      aws_access_key_id="local", aws_secret_access_key="local")
    return s3, f"obelisk-{stack.stage}-dicom"


def _keys(s3, bucket: str, prefix: str) -> list[str]:
    return [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for o in page.get("Contents", [])]


def test_a_stow_writes_the_skeleton_and_the_frames_and_no_metadata_document(stack, stored):
    s3, bucket = _bucket(stack)
    dataset, _ = stored[0]
    study = dataset.StudyInstanceUID
    permanent = _keys(s3, bucket, f"wado/{study}/") + _keys(s3, bucket, f"dicom/{study}/")
    assert sorted(k.rsplit("/", 2)[-2] if "/frames/" in k else k.rsplit(".", 1)[-1] for k in permanent) == \
        ["frames"] * 8 + ["parts"] * 8, permanent
    assert not [k for k in _keys(s3, bucket, "") if k.endswith("metadata.json") and not k.startswith("cache/")]


def test_the_stored_objects_carry_the_headers_reads_rely_on(stack, tokens, stored):
    s3, bucket = _bucket(stack)
    dataset, data = stored[0]
    names = (dataset.StudyInstanceUID, dataset.SeriesInstanceUID, dataset.SOPInstanceUID)
    prefix = "wado/{}/{}/{}/".format(*names)
    read = requests.get(f"{stack.api_url}/studies/{names[0]}/series/{names[1]}/instances/{names[2]}/metadata",
                        headers={"Authorization": f"Bearer {tokens('alice')}"}, timeout=60)
    assert read.status_code == 200
    metadata_key = next(k for k in _keys(s3, bucket, "cache/" + prefix) if k.endswith("/metadata.json"))
    frame_key = next(k for k in _keys(s3, bucket, prefix) if k.endswith("/frames/1"))
    metadata = s3.get_object(Bucket=bucket, Key=metadata_key)
    assert metadata["ContentType"] == "application/dicom+json" and metadata["ContentEncoding"] == "gzip"
    with service_layer(stack):
        from chalicelib.services import parsed
        assert json.loads(gzip.decompress(metadata["Body"].read())) == [parsed.parse(data).document] == read.json()
    frame = s3.get_object(Bucket=bucket, Key=frame_key)
    assert frame["ContentType"].startswith('multipart/related; type="application/octet-stream"')
    assert dataset.PixelData in frame["Body"].read()
    skeleton = s3.list_objects_v2(Bucket=bucket, Prefix=f"dicom/{dataset.StudyInstanceUID}/")["Contents"]
    assert any(o["Key"].endswith(".parts") for o in skeleton)


IDENTITY = {"PatientName": "Derived^Documents", "PatientID": "DERIVED-1", "PatientBirthDate": "19700101",
            "PatientSex": "O", "StudyDate": "20260101", "AccessionNumber": "ACC-DERIVED", "StudyID": "77"}


def _of_every_kind(study: str, series: str) -> list[bytes]:
    """One series of instances of the kinds a document is derived for: native, multi-frame,
    encapsulated (JPEG 2000, RLE), deflated (kept whole), pixel data small enough to be given
    inline, no pixel data; the last lacks its accession number, which STOW coerces to the study's."""
    datasets = [samples.load(name) for name in ("CT_small.dcm", "emri_small.dcm", "emri_small_jpeg_2k_lossless.dcm",
                                                "SC_rgb_rle_2frame.dcm", "image_dfl.dcm", "CT_small.dcm", "test-SR.dcm")]
    tiny = datasets[5]
    tiny.Rows, tiny.Columns = 8, 8
    tiny.PixelData = np.arange(64, dtype=np.uint16).tobytes()
    for number, dataset in enumerate(datasets, start=1):
        samples.renewed(dataset, study, series)
        for keyword, value in IDENTITY.items():
            setattr(dataset, keyword, value)
        dataset.InstanceNumber = number
    del datasets[-1].AccessionNumber
    return [samples.part10(d) for d in datasets]


def test_a_series_grown_one_instance_at_a_time_gets_the_documents_stow_converted(stack, tokens):
    """Each instance in its own STOW: the renditions function builds the series metadata from the
    skeletons; it and each instance's metadata are the documents STOW converted (the coerced
    instance's: of the file as stored, its accession number the study's)."""
    alice = {"Authorization": f"Bearer {tokens('alice')}"}
    study, series = generate_uid(), generate_uid()
    files = _of_every_kind(study, series)
    for data in files:
        body, content_type = multipart_body([data])
        answer = requests.post(f"{stack.api_url}/studies", data=body, timeout=60, headers={**alice, "Content-Type": content_type})
        assert answer.status_code in (200, 202), answer.text
    with service_layer(stack):
        from chalicelib.services import parsed, renditions
        from chalicelib.store import dicom_store

        expected = [parsed.parse(data).document for data in files]
        generation = renditions.series_record(study, series).generation
        deadline = time.monotonic() + 60
        while dicom_store.head(dicom_store.series_metadata_key(study, series, len(files), generation=generation)) is None:
            assert time.monotonic() < deadline, "the renditions function did not build the series"
            time.sleep(0.5)
        coerced_sop = str(pydicom.dcmread(io.BytesIO(files[-1])).SOPInstanceUID)
        retrieved = requests.get(f"{stack.api_url}/studies/{study}/series/{series}/instances/{coerced_sop}",
                                 headers={**alice, "Accept": INSTANCE}, timeout=60)
        expected[-1] = parsed.parse(_payload(retrieved)).document
    assert expected[-1]["00080050"]["Value"] == [IDENTITY["AccessionNumber"]]
    series_metadata = requests.get(f"{stack.api_url}/studies/{study}/series/{series}/metadata", headers=alice, timeout=60)
    assert series_metadata.status_code == 200 and series_metadata.json() == expected
    for document in expected:
        sop = document["00080018"]["Value"][0]
        instance = requests.get(f"{stack.api_url}/studies/{study}/series/{series}/instances/{sop}/metadata",
                                headers=alice, timeout=60)
        assert instance.status_code == 200 and instance.json() == [document]


@pytest.fixture
def lean_put(stack, monkeypatch):
    """`store.s3_put` configured for the stack's emulator, as the API's process has it."""
    from chalicelib import config
    from chalicelib.store import s3_put

    for name, value in {"AWS_ENDPOINT_URL": stack.emulator_url, "AWS_DEFAULT_REGION": "us-east-1",
                        "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}.items():
        monkeypatch.setenv(name, value)
    config.reset()
    yield s3_put
    config.reset()


def test_a_body_that_does_not_match_its_signed_checksum_is_refused_and_not_stored(stack, lean_put):
    """S3 refuses a PUT whose body is not the one its `x-amz-checksum-crc32` was computed on (400
    BadDigest); the emulator does too, so the unsigned-payload PUT is no weaker than a signed body."""
    s3 = boto3.client("s3", endpoint_url=stack.emulator_url, region_name="us-east-1",
                      aws_access_key_id="local", aws_secret_access_key="local")
    bucket, body = f"obelisk-{stack.stage}-dicom", bytes(range(256)) * 2048
    sent = lean_put.signed_request(bucket, "checksum-test/corrupted", body, {"Content-Type": "application/octet-stream"})
    corrupted = body[:1000] + b"\xff" + body[1001:]
    refused = requests.put(sent.url, data=corrupted, headers=dict(sent.headers.items()), timeout=60)
    assert refused.status_code == 400 and "<Code>BadDigest</Code>" in refused.text
    with pytest.raises(s3.exceptions.ClientError):
        s3.head_object(Bucket=bucket, Key="checksum-test/corrupted")

    lean_put.put_object(bucket, "checksum-test/whole", body, ContentType="application/octet-stream")
    assert s3.get_object(Bucket=bucket, Key="checksum-test/whole")["Body"].read() == body
