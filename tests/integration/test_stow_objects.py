"""What a STOW writes with the lean PutObject (`store.s3_put`) and the shared writer pool
(`store.aws`): the objects S3 holds have the headers a read relies on, and every instance, frame and
metadata document comes back through WADO exactly as sent (docs/storage.md)."""
from __future__ import annotations

import gzip
import io
import json

import boto3
import pydicom
import pytest
import requests

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


def test_the_stored_objects_carry_the_headers_reads_rely_on(stack, stored):
    s3 = boto3.client("s3", endpoint_url=stack.emulator_url, region_name="us-east-1",
                      aws_access_key_id="local", aws_secret_access_key="local")
    bucket = f"obelisk-{stack.stage}-dicom"
    dataset, _ = stored[0]
    prefix = f"wado/{dataset.StudyInstanceUID}/{dataset.SeriesInstanceUID}/{dataset.SOPInstanceUID}/"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    metadata_key = next(k for k in keys if k.endswith("/metadata.json"))
    frame_key = next(k for k in keys if k.endswith("/frames/1"))
    metadata = s3.get_object(Bucket=bucket, Key=metadata_key)
    assert metadata["ContentType"] == "application/dicom+json" and metadata["ContentEncoding"] == "gzip"
    assert json.loads(gzip.decompress(metadata["Body"].read()))[0]["00080018"]["Value"] == [dataset.SOPInstanceUID]
    frame = s3.get_object(Bucket=bucket, Key=frame_key)
    assert frame["ContentType"].startswith('multipart/related; type="application/octet-stream"')
    assert dataset.PixelData in frame["Body"].read()
    skeleton = s3.list_objects_v2(Bucket=bucket, Prefix=f"dicom/{dataset.StudyInstanceUID}/")["Contents"]
    assert any(o["Key"].endswith(".parts") for o in skeleton)


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
