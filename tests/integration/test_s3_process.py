"""S3 in an emulator process of its own (devstack/s3_sibling.py): the API reaches it directly, the
main emulator forwards every S3 request it receives unchanged, and the main emulator's
`/_emulator/*` endpoints speak for both."""
from __future__ import annotations

import http.client
import json
import subprocess
import sys
from urllib.parse import unquote_plus, urlsplit

import pytest
import requests

from devstack.bootstrap import aws_client
from devstack.demo import multipart_body
from devstack.stack import ROOT, free_port, wait_for
from tests.integration.dicom_samples import load, part10


def counts(url: str) -> dict:
    return requests.get(f"{url}/_emulator/calls", timeout=10).json()


def stow_one(stack, tokens) -> None:
    body, content_type = multipart_body([part10(load("CT_small.dcm"))])
    stored = requests.post(f"{stack.api_url}/studies", data=body, timeout=120,
                           headers={"Authorization": f"Bearer {tokens('alice')}", "Content-Type": content_type})
    assert stored.status_code == 200, stored.text


def test_the_api_writes_objects_to_s3s_own_process_counted_once(stack, tokens):
    tokens("alice")
    requests.delete(f"{stack.emulator_url}/_emulator/calls", timeout=10)
    stow_one(stack, tokens)
    direct = counts(stack.s3_url)
    merged = counts(stack.emulator_url)
    assert direct.get("s3:PUT", 0) >= 2  # the skeleton and the frame at least
    assert merged["s3:PUT"] == direct["s3:PUT"]  # counted where it was served, reported once
    assert merged["dynamodb:TransactWriteItems"] >= 1 and "dynamodb:TransactWriteItems" not in direct
    requests.delete(f"{stack.emulator_url}/_emulator/calls", timeout=10)
    assert counts(stack.s3_url) == {}  # a reset reaches both


@pytest.fixture
def bucket(stack):
    s3 = aws_client("s3", stack.emulator_url)
    name = "forwarded-requests"
    if name not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=name)
    return name


def test_s3_requests_sent_to_the_main_emulator_reach_s3s_process_unchanged(stack, bucket):
    main, direct = aws_client("s3", stack.emulator_url), aws_client("s3", stack.s3_url)
    big = bytes(range(256)) * 12_000  # ~3 MB: sent on in several pieces
    main.put_object(Bucket=bucket, Key="a key/with spaces+plus", Body=big, Metadata={"Under_Score": "x"})
    stored = direct.get_object(Bucket=bucket, Key="a key/with spaces+plus")
    assert stored["Body"].read() == big and stored["Metadata"] == {"under_score": "x"}
    ranged = main.get_object(Bucket=bucket, Key="a key/with spaces+plus", Range="bytes=10-19")
    assert ranged["Body"].read() == big[10:20] and ranged["ContentRange"] == f"bytes 10-19/{len(big)}"
    head = main.head_object(Bucket=bucket, Key="a key/with spaces+plus")
    assert head["ContentLength"] == len(big)
    listed = main.list_objects_v2(Bucket=bucket, Prefix="a key/")["Contents"]
    assert [o["Key"] for o in listed] == ["a key/with spaces+plus"]
    presigned = main.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "a key/with spaces+plus"})
    assert requests.get(presigned, timeout=10).content == big  # signed for the main emulator's host
    expires = presigned.rsplit("Expires=", 1)[1]
    tampered = presigned.replace(f"Expires={expires}", f"Expires={int(expires) + 1}")
    assert requests.get(tampered, timeout=10).status_code == 403  # S3's checks run after forwarding
    anonymous = requests.put(f"{stack.emulator_url}/{bucket}/anonymous", data=b"x", timeout=10)
    assert anonymous.status_code == 403 and b"AccessDenied" in anonymous.content
    with pytest.raises(direct.exceptions.NoSuchKey):
        direct.get_object(Bucket=bucket, Key="anonymous")


def test_a_chunked_request_body_is_forwarded_whole(stack, bucket):
    address = urlsplit(stack.emulator_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    connection.request("PUT", f"/{bucket}/chunked", body=iter([b"first ", b"second"]),
                       headers={"Transfer-Encoding": "chunked"}, encode_chunked=True)
    answer = connection.getresponse()
    answer.read()
    connection.close()
    # S3 refuses an anonymous write however its body comes; the refusal is S3's, from its process.
    assert answer.status == 403
    assert counts(stack.s3_url).get("other:PUT", 0) >= 1


def test_faults_and_the_clock_set_at_the_main_emulator_apply_to_s3(stack, bucket):
    s3 = aws_client("s3", stack.emulator_url)
    s3.put_object(Bucket=bucket, Key="clock", Body=b"x")
    fault = requests.post(f"{stack.emulator_url}/_emulator/faults", json={"operation": "s3:HEAD", "count": 1},
                          timeout=10).json()
    assert fault["s3:HEAD"] == 1
    assert requests.get(f"{stack.s3_url}/_emulator/faults", timeout=10).json()["s3:HEAD"] == 1
    raw = requests.head(s3.generate_presigned_url("head_object", Params={"Bucket": bucket, "Key": "clock"}),
                        timeout=10)
    assert raw.status_code == 503  # S3's SlowDown, from S3's process
    assert requests.get(f"{stack.emulator_url}/_emulator/faults", timeout=10).json()["s3:HEAD"] == 0
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "clock"}, ExpiresIn=60)
    try:
        requests.post(f"{stack.emulator_url}/_emulator/clock", json={"offset_seconds": 120}, timeout=10)
        assert requests.get(url, timeout=10).status_code == 403  # expired by S3's clock
    finally:
        requests.post(f"{stack.emulator_url}/_emulator/clock", json={"offset_seconds": 0}, timeout=10)
    assert requests.get(url, timeout=10).status_code == 200


def test_s3s_notifications_reach_the_main_emulators_queues(stack, bucket):
    s3, sqs = aws_client("s3", stack.emulator_url), aws_client("sqs", stack.emulator_url)
    queue = sqs.create_queue(QueueName="forwarded-notifications")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [
        {"QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
         "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "incoming/"}]}}}]})
    s3.put_object(Bucket=bucket, Key="incoming/one", Body=b"1")
    keys = []
    for _ in range(5):
        for message in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1, MaxNumberOfMessages=10).get("Messages", []):
            for record in json.loads(message["Body"]).get("Records", []):
                keys.append(unquote_plus(record["s3"]["object"]["key"]))  # URL-encoded, as AWS sends it
        if keys:
            break
    assert keys == ["incoming/one"]


def test_the_s3_process_reads_s3s_state_from_before_the_split(tmp_path):
    """A `.obelisk/emulator.pickle` written by one emulator process holding every service: the S3
    process takes S3's objects from it until it has saved its own file."""
    whole = tmp_path / "emulator.pickle"
    port = free_port()
    single = subprocess.Popen([sys.executable, "-m", "devstack.emulator", "--port", str(port), "--state", str(whole)],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}/_emulator/calls", process=single)
        s3 = aws_client("s3", f"http://127.0.0.1:{port}")
        s3.create_bucket(Bucket="kept")
        s3.put_object(Bucket="kept", Key="object", Body=b"before the split")
    finally:
        single.terminate()
        single.wait(timeout=30)
    port = free_port()
    s3_state = tmp_path / "emulator-s3.pickle"
    split = subprocess.Popen([sys.executable, "-m", "devstack.emulator", "--s3-only", "--port", str(port),
                              "--state", str(s3_state)],
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}/_emulator/calls", process=split)
        assert s3_state.exists()  # saved at once: the main emulator's next save drops S3 from its file
        s3 = aws_client("s3", f"http://127.0.0.1:{port}")
        assert s3.get_object(Bucket="kept", Key="object")["Body"].read() == b"before the split"
    finally:
        split.kill()  # no save on the way out
        split.wait(timeout=30)
    whole.unlink()
    port = free_port()
    again = subprocess.Popen([sys.executable, "-m", "devstack.emulator", "--s3-only", "--port", str(port),
                              "--state", str(s3_state)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}/_emulator/calls", process=again)
        s3 = aws_client("s3", f"http://127.0.0.1:{port}")
        assert s3.get_object(Bucket="kept", Key="object")["Body"].read() == b"before the split"
    finally:
        again.terminate()
        again.wait(timeout=30)
