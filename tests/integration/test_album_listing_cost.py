"""QIDO of an album with 1,000 studies costs a bounded number of DynamoDB requests per page,
counted at the emulator. The album's index rows are written straight into the emulator's tables
(setting up 1,000 studies over STOW would take minutes); the request under test is real HTTP."""
from __future__ import annotations

import pytest
import requests
from pydicom.uid import generate_uid

from devstack.stack import LocalStack
from tests.support.in_process import service_layer

STUDIES = 1000


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A stack of its own: 3,000 index rows would slow every later test on the shared emulator."""
    local = LocalStack(tmp_path_factory.mktemp("big-album"), emulator_port=0, api_port=0, persist=False)
    try:
        yield local.start()
    finally:
        local.stop()


@pytest.fixture(scope="module")
def tokens(stack):
    cache: dict[str, str] = {}

    def token(user: str) -> str:
        return cache.setdefault(user, stack.token(user))

    return token


@pytest.fixture(scope="module")
def big_album(stack, tokens):
    api, alice = stack.api_url, {"Authorization": f"Bearer {tokens('alice')}"}
    album = requests.post(f"{api}/albums", headers=alice, data={"name": "thousand"}, timeout=10).json()["album_id"]
    with service_layer(stack):
        from chalicelib.store.models import SeriesRecord, SeriesShare, StudyRecord
        with StudyRecord.batch_write() as studies, SeriesRecord.batch_write() as series, \
                SeriesShare.batch_write() as album_rows:
            for n in range(STUDIES):
                study, serie = generate_uid(), generate_uid()
                studies.save(StudyRecord(*StudyRecord.key(study), study_uid=study, created_at="2026-01-01", attributes={
                    "0020000D": {"vr": "UI", "Value": [study]}, "00080020": {"vr": "DA", "Value": [f"2025{n % 12 + 1:02d}01"]},
                    "00100010": {"vr": "PN", "Value": [{"Alphabetic": f"Patient^{n}"}]}}))
                series.save(SeriesRecord(*SeriesRecord.key(study, serie), study_uid=study, series_uid=serie,
                                         instance_count=1, attributes={"00080060": {"vr": "CS", "Value": ["CT"]}}))
                album_rows.save(SeriesShare(*SeriesShare.key(album, study, serie), album_id=album, study_uid=study,
                                            series_uid=serie, series_album=f"{serie}#{album}", added_at="2026-01-01"))
    return album


def dynamodb_requests_for(stack, tokens, album: str, limit: int) -> tuple[int, requests.Response]:
    calls = f"{stack.emulator_url}/_emulator/calls"
    requests.delete(calls, timeout=5)
    response = requests.get(f"{stack.api_url}/studies", params={"album": album, "limit": limit},
                            headers={"Authorization": f"Bearer {tokens('alice')}"}, timeout=60)
    counted = requests.get(calls, timeout=5).json()
    assert not any(op.endswith(":Scan") for op in counted), counted
    return sum(n for op, n in counted.items() if op.startswith("dynamodb:")), response


def test_a_page_of_a_thousand_study_album_is_bounded(stack, tokens, big_album):
    small, response = dynamodb_requests_for(stack, tokens, big_album, 10)
    assert response.status_code == 200 and len(response.json()) == 10
    assert response.headers["X-Total-Count"] == str(STUDIES)
    large, response = dynamodb_requests_for(stack, tokens, big_album, 500)
    assert len(response.json()) == 500
    assert small <= 30, f"{small} DynamoDB requests for one page of 10"
    assert large <= small + 2, "the page size must not change the cost"

