"""The local platform itself: probes, registration, persistence across a restart."""
from __future__ import annotations

import boto3
import pydicom
import pytest
import requests
from pydicom.data import get_testdata_file

from devstack.stack import LocalStack
from tests.dicomweb_session import DICOMwebClient


def test_liveness_and_readiness_answer(stack):
    assert requests.get(f"{stack.api_url}/liveness", timeout=10).status_code == 200
    ready = requests.get(f"{stack.api_url}/readiness", timeout=10)
    assert ready.status_code == 200
    assert all(ready.json()["checks"].values())


def test_register_returns_the_user_profile(stack, tokens):
    response = requests.post(f"{stack.api_url}/register", data={"access_token": tokens("carol")}, timeout=10)
    assert response.status_code == 200
    assert response.json()["email"] == "carol@example.org"
    assert response.json()["name"] == "Carol Nguyen"
    assert response.json()["sub"]


def test_register_with_a_bad_token_is_a_bad_form_parameter(stack):
    response = requests.post(f"{stack.api_url}/register", data={"access_token": "not-a-token"}, timeout=10)
    assert response.status_code == 400
    assert response.json()["message"] == "Bad Form Parameter"


@pytest.fixture(scope="module")
def restarted(tmp_path_factory):
    """A persisted stack that stored alice's MR study and lost its research queue (as state kept
    from a version before research albums), stopped, and started again on that state."""
    folder = tmp_path_factory.mktemp("restart")
    dataset = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    first = LocalStack(folder, emulator_port=0, api_port=0, persist=True)
    try:
        first.start()
        client = DICOMwebClient(first.api_url, headers={"Authorization": f"Bearer {first.token('alice')}"})
        client.store_instances([dataset])
        queues = _sqs(first)
        queues.delete_queue(QueueUrl=queues.get_queue_url(QueueName=f"obelisk-{first.stage}-research")["QueueUrl"])
    finally:
        first.stop()
    second = LocalStack(folder, emulator_port=0, api_port=0, persist=True)
    try:
        yield second.start(), dataset
    finally:
        second.stop()


def _sqs(stack):
    return boto3.client("sqs", endpoint_url=stack.emulator_url, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def test_restart_keeps_alices_study(restarted):
    second, dataset = restarted
    client = DICOMwebClient(second.api_url, headers={"Authorization": f"Bearer {second.token('alice')}"})
    studies = client.search_for_studies()
    assert [s["0020000D"]["Value"][0] for s in studies] == [str(dataset.StudyInstanceUID)]
    retrieved = client.retrieve_instance(str(dataset.StudyInstanceUID), str(dataset.SeriesInstanceUID),
                                         str(dataset.SOPInstanceUID))
    assert retrieved.PixelData == dataset.PixelData


def test_make_token_prints_one_line_the_api_accepts(stack):
    import os
    import subprocess
    import sys

    from devstack.stack import ROOT

    printed = subprocess.run(
        [sys.executable, "-m", "devstack", "token", "alice"], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "OBELISK_DATA_DIR": str(stack.data_dir)}, timeout=60, check=True,
    ).stdout
    assert printed.count("\n") == 1
    response = requests.get(f"{stack.api_url}/studies", headers={"Authorization": f"Bearer {printed.strip()}"},
                            timeout=10)
    assert response.status_code in (200, 204)


def test_a_queue_a_newer_version_adds_exists_after_restarting_on_older_state(restarted):
    """Emulator state kept from a version without a queue (here the research queue, added with
    research albums) gains it at the next start, with its dead-letter redrive: `make run` after
    `git pull` must not answer 500 on every path that sends to the new queue."""
    second, _ = restarted
    queues = _sqs(second)
    url = queues.get_queue_url(QueueName=f"obelisk-{second.stage}-research")["QueueUrl"]
    redrive = queues.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]
    assert f"obelisk-{second.stage}-research-dlq" in redrive["RedrivePolicy"]
