"""STOW-RS: the body kinds, the failure reasons, idempotency, `?album=` with its import events,
and refusal of malformed input with nothing left behind in S3 or the index."""
from __future__ import annotations

import io
import uuid

import boto3
import pydicom
import pytest
import requests
from pydicom.uid import generate_uid

from tests.integration import dicom_samples as samples
from tests.support import sequences

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
DICOM_MULTIPART = 'multipart/related; type="application/dicom"; boundary={}'

def multipart(parts: list[tuple[str, bytes, dict]], boundary: str) -> bytes:
    out = b""
    for content_type, body, headers in parts:
        lines = [f"Content-Type: {content_type}", *(f"{k}: {v}" for k, v in headers.items())]
        out += f"--{boundary}\r\n".encode() + "\r\n".join(lines).encode() + b"\r\n\r\n" + body + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()

def stow(stack, token, body: bytes, content_type: str, path: str = "/studies", **params):
    return requests.post(stack.api_url + path, data=body, params=params, timeout=60,
                         headers={"Authorization": f"Bearer {token}", "Content-Type": content_type,
                                  "Accept": "application/dicom+json"})

@pytest.fixture(scope="module")
def aws(stack):
    def make(service):
        return boto3.client(service, endpoint_url=stack.emulator_url, region_name="us-east-1",
                            aws_access_key_id="local", aws_secret_access_key="local")
    return make

def residue(aws, stack) -> tuple[set[str], int]:
    """Every permanent S3 key of the DICOM bucket and the number of index items (test-side
    inspection). The `cache/` prefix is left out: derived answers of earlier requests are built
    there asynchronously (delayed series builds) while a test runs (docs/storage.md)."""
    keys = set()
    for page in aws("s3").get_paginator("list_objects_v2").paginate(Bucket=f"obelisk-{stack.stage}-dicom"):
        keys |= {o["Key"] for o in page.get("Contents", []) if not o["Key"].startswith("cache/")}
    items = aws("dynamodb").scan(TableName=f"obelisk-{stack.stage}-dicom", Select="COUNT")["Count"]
    return keys, items

@pytest.fixture(scope="module")
def album(stack, tokens, aws):
    return make_album(stack, tokens, aws)


def make_album(stack, tokens, aws, download: bool = True, admin: bool = True) -> str:
    """An album alice belongs to (written to the emulator: the albums API is another issue's)."""
    requests.get(stack.api_url + "/studies", headers={"Authorization": f"Bearer {tokens('bob')}"}, timeout=30)
    users = aws("dynamodb").query(TableName=f"obelisk-{stack.stage}-users", IndexName="by-email",
                                  KeyConditionExpression="email_lower = :e",
                                  ExpressionAttributeValues={":e": {"S": "alice@example.org"}})["Items"]
    alice = users[0]["sub"]["S"]
    album_id = uuid.uuid4().hex[:10]
    table = f"obelisk-{stack.stage}-albums"
    flags = {"M": {k: {"BOOL": v} for k, v in dict(add_user=False, download_series=download, send_series=True,
                                                     delete_series=False, add_series=True, write_comments=True).items()}}
    aws("dynamodb").put_item(TableName=table, Item={
        "pk": {"S": f"ALBUM#{album_id}"}, "sk": {"S": "META"}, "album_id": {"S": album_id}, "name": {"S": "stow"},
        "is_inbox": {"BOOL": False}, "flags": flags, "created_time": {"S": "2026-01-01T00:00:00.000"},
        "last_event_time": {"S": "2026-01-01T00:00:00.000"}, "description": {"S": ""}})
    aws("dynamodb").put_item(TableName=table, Item={
        "pk": {"S": f"ALBUM#{album_id}"}, "sk": {"S": f"MEMBER#{alice}"}, "member_sub": {"S": alice},
        "is_admin": {"BOOL": admin}, "is_favorite": {"BOOL": False}, "joined_at": {"S": "2026-01-01T00:00:00.000"},
        "notification_new_series": {"BOOL": True}, "notification_new_comment": {"BOOL": True}})
    return album_id

def test_bare_application_dicom_body(stack, tokens):
    data = samples.part10(samples.load("CT_small.dcm"))
    answer = stow(stack, tokens("alice"), data, "application/dicom")
    assert answer.status_code == 200
    assert answer.json()["00081199"]["Value"][0]["00081155"]["Value"] == [str(pydicom.dcmread(io.BytesIO(data)).SOPInstanceUID)]

def test_store_is_idempotent_per_sop_instance(stack, tokens, aws):
    data = samples.part10(samples.load("MR_small.dcm"))
    boundary = uuid.uuid4().hex
    first = stow(stack, tokens("alice"), multipart([("application/dicom", data, {})], boundary), DICOM_MULTIPART.format(boundary))
    before = residue(aws, stack)
    again = stow(stack, tokens("alice"), multipart([("application/dicom", data, {})], boundary), DICOM_MULTIPART.format(boundary))
    assert first.status_code == again.status_code == 200
    assert residue(aws, stack) == before

def test_dicom_json_metadata_with_an_encapsulated_pdf_bulk_part(stack, tokens):
    """How report tools upload: metadata as DICOM JSON, the PDF as a bulk part."""
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    study, sop = generate_uid(), generate_uid()
    metadata = [{
        "00080016": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.104.1"]},
        "00080018": {"vr": "UI", "Value": [sop]}, "00080060": {"vr": "CS", "Value": ["DOC"]},
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Report^Pdf"}]}, "00100020": {"vr": "LO", "Value": ["PDF1"]},
        "0020000D": {"vr": "UI", "Value": [study]}, "0020000E": {"vr": "UI", "Value": [generate_uid()]},
        "00420010": {"vr": "ST", "Value": ["report"]}, "00420012": {"vr": "LO", "Value": ["application/pdf"]},
        "00420011": {"vr": "OB", "BulkDataURI": "pdf-part"},
    }]
    import json
    boundary = uuid.uuid4().hex
    body = multipart([("application/dicom+json", json.dumps(metadata).encode(), {}),
                      ("application/pdf", pdf, {"Content-Location": "pdf-part"})], boundary)
    answer = stow(stack, tokens("alice"), body, f'multipart/related; type="application/dicom+json"; boundary={boundary}')
    assert answer.status_code == 200, answer.text
    instance_url = answer.json()["00081199"]["Value"][0]["00081190"]["Value"][0]
    auth = {"Authorization": f"Bearer {tokens('alice')}"}
    stored = pydicom.dcmread(io.BytesIO(requests.get(f"{stack.api_url}/wado", headers=auth, timeout=30, params={
        "requestType": "WADO", "studyUID": study, "seriesUID": metadata[0]["0020000E"]["Value"][0],
        "objectUID": sop, "contentType": "application/dicom"}).content))
    assert stored.EncapsulatedDocument.rstrip(b"\0") == pdf.rstrip(b"\0")
    assert instance_url.endswith(f"/instances/{sop}")

def test_failure_reasons(stack, tokens):
    original = samples.load("CT_small.dcm")
    first = samples.part10(original)
    assert stow(stack, tokens("alice"), first, "application/dicom").status_code == 200
    conflicting = pydicom.dcmread(io.BytesIO(first))
    conflicting.SOPInstanceUID = generate_uid()
    conflicting.PatientID = "SOMEONE-ELSE"
    conflicting.SeriesInstanceUID = generate_uid()
    mismatch = samples.load("MR_small.dcm")
    boundary = uuid.uuid4().hex
    body = multipart([("application/dicom", samples.part10(conflicting), {}),
                      ("application/dicom", samples.part10(mismatch), {})], boundary)
    answer = stow(stack, tokens("alice"), body, DICOM_MULTIPART.format(boundary), path=f"/studies/{original.StudyInstanceUID}")
    assert answer.status_code == 409
    failed = {item["00081155"]["Value"][0]: item for item in answer.json()["00081198"]["Value"]}
    assert failed[str(conflicting.SOPInstanceUID)]["00081197"]["Value"] == [0x0106]
    assert failed[str(conflicting.SOPInstanceUID)]["00001005"]["Value"] == ["00100020"]
    assert failed[str(mismatch.SOPInstanceUID)]["00081197"]["Value"] == [0xC409]
    # bob may not add to alice's series: not authorized, and a partial success is 202
    again = pydicom.dcmread(io.BytesIO(first))
    again.SOPInstanceUID = generate_uid()
    fresh = samples.load("MR_small.dcm")
    body = multipart([("application/dicom", samples.part10(again), {}),
                      ("application/dicom", samples.part10(fresh), {})], boundary)
    answer = stow(stack, tokens("bob"), body, DICOM_MULTIPART.format(boundary))
    assert answer.status_code == 202
    assert answer.json()["00081198"]["Value"][0]["00081197"]["Value"] == [0x0124]

MALFORMED = {
    "empty body": (b"", DICOM_MULTIPART.format("b0")),
    "empty bare body": (b"", "application/dicom"),
    "wrong boundary": (None, DICOM_MULTIPART.format("not-the-boundary")),
    "no boundary parameter": (None, 'multipart/related; type="application/dicom"'),
    "no closing delimiter": ("unclosed", DICOM_MULTIPART.format("b0")),
    "part without header separator": (b"--b0\r\nContent-Type: application/dicom\r\n--b0--\r\n", DICOM_MULTIPART.format("b0")),
    "truncated DICOM (multipart)": ("truncated", DICOM_MULTIPART.format("b0")),
    "truncated DICOM (bare)": ("truncated-bare", "application/dicom"),
    "not DICOM at all": (b"--b0\r\nContent-Type: application/dicom\r\n\r\nhello\r\n--b0--\r\n", DICOM_MULTIPART.format("b0")),
    "sequence item past its sequence's end": ("overrun", DICOM_MULTIPART.format("b0")),
}

@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_input_is_400_with_no_residue(stack, tokens, aws, case):
    data = samples.part10(samples.load("CT_small.dcm"))
    body, content_type = MALFORMED[case]
    if body is None:
        body = multipart([("application/dicom", data, {})], "b0")
    elif body == "unclosed":
        body = multipart([("application/dicom", data, {})], "b0")[: -len("--b0--\r\n")]
    elif body == "truncated":
        body = multipart([("application/dicom", data[:-500], {})], "b0")
    elif body == "truncated-bare":
        body = data[:-500]
    elif body == "overrun":  # read differently by pydicom and DCMTK (outside check, round 17)
        body = multipart([("application/dicom", sequences.with_sequence_item(200), {})], "b0")
    before = residue(aws, stack)
    answer = stow(stack, tokens("alice"), body, content_type)
    assert answer.status_code == 400, (case, answer.status_code, answer.text)
    assert answer.json()["detail"], case
    assert residue(aws, stack) == before, case

def test_stow_into_an_album_records_import_events(stack, tokens, aws, album):
    datasets = [samples.load("CT_small.dcm")]
    second = pydicom.dcmread(io.BytesIO(samples.part10(datasets[0])))
    second.SOPInstanceUID = generate_uid()
    datasets.append(second)
    boundary = uuid.uuid4().hex
    body = multipart([("application/dicom", samples.part10(d), {}) for d in datasets], boundary)
    answer = stow(stack, tokens("alice"), body, DICOM_MULTIPART.format(boundary), album=album)
    assert answer.status_code == 200
    found = requests.get(f"{stack.api_url}/studies", params={"album": album},
                         headers={"Authorization": f"Bearer {tokens('alice')}"}, timeout=30).json()
    assert [s["0020000D"]["Value"][0] for s in found] == [str(datasets[0].StudyInstanceUID)]
    events = aws("dynamodb").query(TableName=f"obelisk-{stack.stage}-albums",
                                   KeyConditionExpression="pk = :p AND begins_with(sk, :e)",
                                   ExpressionAttributeValues={":p": {"S": f"ALBUM#{album}"}, ":e": {"S": "EVENT#"}})["Items"]
    imports = [e for e in events if e.get("mutation_type", {}).get("S") == "IMPORT_SERIES"]
    assert len(imports) == 1
    assert str(datasets[0].SeriesInstanceUID) in imports[0]["series_uids"]["S"]

def test_stow_to_the_inbox_records_no_album_event(stack, tokens, aws):
    queue = aws("sqs").get_queue_url(QueueName=f"obelisk-{stack.stage}-events")["QueueUrl"]
    aws("sqs").purge_queue(QueueUrl=queue)
    assert stow(stack, tokens("alice"), samples.part10(samples.load("CT_small.dcm")), "application/dicom").status_code == 200
    messages = aws("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    assert messages == []

def test_album_the_caller_cannot_reach_is_404(stack, tokens, album):
    answer = stow(stack, tokens("bob"), samples.part10(samples.load("CT_small.dcm")), "application/dicom", album=album)
    assert answer.status_code == 404



def test_series_metadata_stays_complete_under_concurrent_stow(stack, tokens):
    """Two requests add instances to one series at the same time; the series metadata and the
    series retrieval then list every instance (objects are keyed by instance count)."""
    from concurrent.futures import ThreadPoolExecutor

    study, series = generate_uid(), generate_uid()
    batches = []
    for batch in range(2):
        datasets = [samples.renewed(samples.load("MR_small.dcm"), study, series) for _ in range(4)]
        for number, ds in enumerate(datasets, start=1):
            ds.InstanceNumber = batch * 10 + number
        boundary = uuid.uuid4().hex
        batches.append((multipart([("application/dicom", samples.part10(d), {}) for d in datasets], boundary),
                        DICOM_MULTIPART.format(boundary), {str(d.SOPInstanceUID) for d in datasets}))
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda b: stow(stack, tokens("alice"), b[0], b[1]), batches))
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    expected = batches[0][2] | batches[1][2]
    auth = {"Authorization": f"Bearer {tokens('alice')}"}
    answer = requests.get(f"{stack.api_url}/studies/{study}/series/{series}/metadata", headers=auth, timeout=30)
    assert answer.status_code == 200, answer.text
    metadata = answer.json()
    assert {m["00080018"]["Value"][0] for m in metadata} == expected
    retrieved = requests.get(f"{stack.api_url}/studies/{study}/series/{series}", headers=auth, timeout=30)
    assert all(sop.encode() in retrieved.content for sop in expected)


def test_zip_download_follows_the_albums_download_permission(stack, tokens, aws):
    """KHEOPS did not check the download flag server-side; Obelisk does."""
    auth = {"Authorization": f"Bearer {tokens('alice')}"}
    for download, expected in ((False, 403), (True, 200)):
        album_id = make_album(stack, tokens, aws, download=download, admin=False)
        ds = samples.load("CT_small.dcm")
        assert stow(stack, tokens("alice"), samples.part10(ds), "application/dicom", album=album_id).status_code == 200
        answer = requests.get(f"{stack.api_url}/studies/{ds.StudyInstanceUID}", timeout=30,
                              params={"accept": "application/zip", "album": album_id}, headers=auth)
        assert answer.status_code == expected, answer.text


def test_a_stow_converts_each_instance_to_dicom_json_once(stack, tokens, monkeypatch):
    """The checks against a stored study, the index rows and the stored metadata all read one
    conversion per instance (issue 21, item 7): two instances into a study already stored cost
    two conversions, and what the viewer reads is each instance's document."""
    from devstack.in_process import service_layer

    first = samples.renewed(samples.load("CT_small.dcm"))
    others = [samples.renewed(samples.load("CT_small.dcm"), study=str(first.StudyInstanceUID)) for _ in range(2)]
    body = multipart([("application/dicom", samples.part10(first), {})], "one")
    assert stow(stack, tokens("alice"), body, DICOM_MULTIPART.format("one")).status_code == 200
    with service_layer(stack):
        from chalicelib.auth.authenticate import authenticate
        from chalicelib.dicom import json_model
        from chalicelib.services import ingest

        encode, converted = json_model.encode, []

        def counting(dataset, bulk_data_uri):
            if hasattr(dataset, "file_meta"):
                converted.append(str(dataset.SOPInstanceUID))
            return encode(dataset, bulk_data_uri)

        monkeypatch.setattr(json_model, "encode", counting)
        body = multipart([("application/dicom", samples.part10(d), {}) for d in others], "two")
        caller = authenticate({"Authorization": f"Bearer {tokens('alice')}"})
        result = ingest.store_body(caller, None, None, DICOM_MULTIPART.format("two"), body)
        monkeypatch.undo()
    assert len(result.stored) == 2 and not result.failed
    assert sorted(converted) == sorted(str(d.SOPInstanceUID) for d in others)
    for dataset in others:
        uids = (dataset.StudyInstanceUID, dataset.SeriesInstanceUID, dataset.SOPInstanceUID)
        answer = requests.get(f"{stack.api_url}/studies/{uids[0]}/series/{uids[1]}/instances/{uids[2]}/metadata",
                              headers={"Authorization": f"Bearer {tokens('alice')}", "Accept": "application/dicom+json"},
                              timeout=60)
        assert answer.status_code == 200 and answer.json()[0]["00080018"]["Value"] == [str(uids[2])]
