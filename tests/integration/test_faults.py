"""Faults: throttling by AWS is retried, and an ingest stopped between its S3 writes and its index
transaction leaves no visible half instance, and a retry completes it."""
from __future__ import annotations

import pytest
import requests

from devstack.demo import multipart_body
from devstack.in_process import service_layer
from tests.integration.dicom_samples import load, part10


def inject(stack, operation: str, count: int) -> None:
    requests.post(f"{stack.emulator_url}/_emulator/faults", json={"operation": operation, "count": count}, timeout=5)


def alice(tokens) -> dict:
    return {"Authorization": f"Bearer {tokens('alice')}"}


@pytest.mark.parametrize("operation", ["dynamodb:Query", "dynamodb:GetItem"])
def test_throttled_dynamodb_requests_are_retried(stack, tokens, operation):
    inject(stack, operation, 2)
    response = requests.get(f"{stack.api_url}/studies", headers=alice(tokens), timeout=60)
    assert response.status_code in (200, 204)
    assert requests.get(f"{stack.emulator_url}/_emulator/faults", timeout=5).json()[operation] == 0


def test_throttled_s3_writes_during_stow_are_retried(stack, tokens):
    dataset = load("CT_small.dcm")
    inject(stack, "s3:PUT", 3)
    body, content_type = multipart_body([part10(dataset)])
    stored = requests.post(f"{stack.api_url}/studies", data=body, timeout=120,
                           headers={**alice(tokens), "Content-Type": content_type})
    assert stored.status_code == 200, stored.text


@pytest.fixture
def in_process(stack):
    with service_layer(stack):
        yield


def test_ingest_stopped_before_its_index_write_leaves_nothing_visible(stack, tokens, in_process, monkeypatch):
    from pynamodb import transactions

    from chalicelib.auth.authenticate import authenticate
    from chalicelib.services import ingest

    dataset = load("MR_small.dcm")
    study = str(dataset.StudyInstanceUID)
    caller = authenticate({"Authorization": f"Bearer {tokens('alice')}"})

    class Crash(Exception):
        pass

    def crash(*_args, **_kwargs):
        raise Crash("the function died between the S3 writes and the index transaction")

    monkeypatch.setattr(transactions.TransactWrite, "__exit__", crash)
    stow = ingest.Ingest(caller, None, None)
    with pytest.raises(Crash):
        stow.add(part10(dataset))
    monkeypatch.undo()

    seen = requests.get(f"{stack.api_url}/studies", params={"StudyInstanceUID": study}, headers=alice(tokens), timeout=30)
    assert seen.status_code == 204, "a half-stored instance is visible"

    body, content_type = multipart_body([part10(dataset)])
    retried = requests.post(f"{stack.api_url}/studies", data=body, timeout=60,
                            headers={**alice(tokens), "Content-Type": content_type})
    assert retried.status_code == 200, retried.text
    found = requests.get(f"{stack.api_url}/studies", params={"StudyInstanceUID": study}, headers=alice(tokens), timeout=30)
    assert found.status_code == 200 and found.json()[0]["00201208"]["Value"] == [1]
