"""Album events never name a series the caller cannot read (docs/kheops-compatibility.md §7):
a series event is shown when the caller reads the series now, or was a member when it happened."""
from __future__ import annotations

import pydicom
import pytest
import requests
from pydicom.data import get_testdata_file

from tests.dicomweb_session import DICOMwebClient
from tests.integration.dicom_samples import renewed
from tests.integration.webhook_receiver import Receiver, wait_until


@pytest.fixture(scope="module")
def people(stack, tokens):
    sessions = {}
    for name in ("alice", "bob", "carol"):
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {tokens(name)}"
        assert session.get(f"{stack.api_url}/inboxinfo", timeout=20).status_code == 200  # registered
        sessions[name] = session
    return sessions


def _store(stack, tokens, user: str) -> tuple[str, str]:
    """A new series in the user's inbox: (study UID, series UID)."""
    dataset = renewed(pydicom.dcmread(get_testdata_file("CT_small.dcm")))
    DICOMwebClient(stack.api_url, headers={"Authorization": f"Bearer {tokens(user)}"}).store_instances([dataset])
    return str(dataset.StudyInstanceUID), str(dataset.SeriesInstanceUID)


def _events(stack, session, album: str, **params) -> requests.Response:
    response = session.get(f"{stack.api_url}/albums/{album}/events", params=params, timeout=20)
    assert response.status_code == 200, response.text
    return response


def _series_events(events: list[dict], study: str) -> list[str]:
    """Oldest first, the mutation types of the events naming `study`."""
    return [e["mutation_type"] for e in reversed(events) if e.get("study", {}).get("UID") == study]


def test_a_new_member_sees_no_event_of_a_series_removed_before_they_joined(stack, tokens, people):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    url = stack.api_url
    study, series = _store(stack, tokens, "alice")  # A1: bob never reads it
    album = alice.post(f"{url}/albums", data={"name": "F4"}, timeout=20).json()["album_id"]
    assert alice.put(f"{url}/albums/{album}/users/carol@example.org", timeout=20).status_code == 201
    assert alice.put(f"{url}/studies/{study}/series/{series}/albums/{album}", params={"inbox": "true"},
                     timeout=20).status_code == 201
    assert alice.delete(f"{url}/studies/{study}/series/{series}/albums/{album}", timeout=20).status_code == 204
    assert alice.put(f"{url}/albums/{album}/users/bob@example.org", timeout=20).status_code == 201

    seen = _events(stack, bob, album)
    assert study not in seen.text and series not in seen.text
    assert int(seen.headers["X-Total-Count"]) == len(seen.json())
    assert [e["mutation_type"] for e in reversed(seen.json())] == ["CREATE_ALBUM", "ADD_USER", "ADD_USER"]
    assert _events(stack, bob, album, studies=study).json() == []
    first = _events(stack, bob, album, limit=1, offset=2)
    assert first.headers["X-Total-Count"] == "3" and first.json()[0]["mutation_type"] == "CREATE_ALBUM"

    # carol was a member when A1 came and went; alice created the album
    for member in (carol, alice):
        assert _series_events(_events(stack, member, album).json(), study) == ["IMPORT_SERIES", "REMOVE_SERIES"]

    # once bob reads A1 (alice adds it again), every event naming it is his to see
    assert alice.put(f"{url}/studies/{study}/series/{series}/albums/{album}", params={"inbox": "true"},
                     timeout=20).status_code == 201
    assert _series_events(_events(stack, bob, album).json(), study) == ["IMPORT_SERIES", "REMOVE_SERIES",
                                                                        "IMPORT_SERIES"]


def test_a_new_member_sees_earlier_events_of_series_they_read(stack, tokens, people):
    alice, bob = people["alice"], people["bob"]
    url = stack.api_url
    study, series = _store(stack, tokens, "alice")
    assert alice.put(f"{url}/studies/{study}/series/{series}/users/bob@example.org", timeout=20).status_code == 201
    album = alice.post(f"{url}/albums", data={"name": "F4 read"}, timeout=20).json()["album_id"]
    assert alice.put(f"{url}/studies/{study}/series/{series}/albums/{album}", params={"inbox": "true"},
                     timeout=20).status_code == 201
    assert alice.delete(f"{url}/studies/{study}/series/{series}/albums/{album}", timeout=20).status_code == 204
    assert alice.put(f"{url}/albums/{album}/users/bob@example.org", timeout=20).status_code == 201

    # bob reads the series in his inbox: events naming it teach him nothing he cannot read
    assert _series_events(_events(stack, bob, album).json(), study) == ["IMPORT_SERIES", "REMOVE_SERIES"]


def test_an_admin_added_later_sees_no_study_in_earlier_webhook_triggers(stack, tokens, people):
    alice, bob = people["alice"], people["bob"]
    url = stack.api_url
    study, series = _store(stack, tokens, "alice")
    album = alice.post(f"{url}/albums", data={"name": "F4 hooks"}, timeout=20).json()["album_id"]
    receiver = Receiver()
    try:
        hook = alice.post(f"{url}/albums/{album}/webhooks", timeout=20,
                          data={"url": receiver.url, "name": "board", "event": "remove_series"}).json()["id"]
        assert alice.put(f"{url}/studies/{study}/series/{series}/albums/{album}", params={"inbox": "true"},
                         timeout=20).status_code == 201
        assert alice.delete(f"{url}/studies/{study}/series/{series}/albums/{album}", timeout=20).status_code == 204
        history = f"{url}/albums/{album}/webhooks/{hook}"
        [made] = wait_until(lambda: alice.get(history, timeout=20).json()["triggers"])
        assert made["study"]["study_uid"] == study
    finally:
        receiver.close()
    assert alice.put(f"{url}/albums/{album}/users/bob@example.org", timeout=20).status_code == 201
    assert alice.put(f"{url}/albums/{album}/users/bob@example.org/admin", timeout=20).status_code == 204

    seen = bob.get(history, timeout=20)
    assert seen.status_code == 200 and study not in seen.text and series not in seen.text
    [trigger] = seen.json()["triggers"]  # the delivery's history stays, without the study it named
    assert trigger["id"] == made["id"] and trigger["event"] == "remove_series"
    assert seen.headers["X-Total-Count"] == "1"
