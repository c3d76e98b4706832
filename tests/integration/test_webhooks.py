"""Album webhooks against the real local stack: management over HTTP, deliveries to a real
receiver on loopback through the SQS event functions run by the dev stack's pollers.

Album endpoints and ingest's `import_series` call are not in this branch yet, so albums and
memberships are written with the PynamoDB models, and the mutation events that album endpoints
and ingest publish are published with `chalicelib.events.mutations` in test setup."""
from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
import time
from io import BytesIO

import pydicom
import pytest
import requests
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from devstack.in_process import service_layer
from tests.conftest import TEST_STACK_ENV
from tests.integration.webhook_receiver import Receiver, SilentReceiver, wait_until

SECRET = "s3cr3t-for-signing"


@pytest.fixture(scope="module")
def backend(stack):
    """This test process talks to the stack's emulator (for setup the API cannot do yet)."""
    from chalicelib.store import aws

    with service_layer(stack):
        yield aws


@pytest.fixture(scope="module")
def people(backend, stack, tokens):
    """Registered demo users (each called the API once), by name."""
    from chalicelib.services.users import find_user

    for user in ("alice", "bob", "carol"):
        answer = requests.get(f"{stack.api_url}/studies", headers={"Authorization": f"Bearer {tokens(user)}"}, timeout=30)
        assert answer.status_code in (200, 204)
    return {user: find_user(f"{user}@example.org") for user in ("alice", "bob", "carol")}


@pytest.fixture
def album(people):
    """A fresh album: alice admin, bob member."""
    from chalicelib import clock
    from chalicelib.store.models import Album, AlbumMember

    album_id = clock.random_id(10)
    moment = clock.local_iso()
    Album(*Album.key(album_id), album_id=album_id, name="webhooks", created_time=moment,
          last_event_time=moment).save()
    for user, admin in (("alice", True), ("bob", False)):
        AlbumMember(*AlbumMember.key(album_id, people[user].sub), member_sub=people[user].sub, is_admin=admin,
                    joined_at=moment).save()
    return album_id


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def hooks_url(stack, album_id: str) -> str:
    return f"{stack.api_url}/albums/{album_id}/webhooks"


def create_hook(api, stack, album_id: str, url: str, events=("new_series", "new_user", "remove_series",
                                                            "delete_album"), secret: str | None = SECRET) -> dict:
    form = [("url", url), ("name", " receiver "), *[("event", e) for e in events]]
    if secret:
        form.append(("secret", secret))
    response = api("alice").post(hooks_url(stack, album_id), data=form)
    assert response.status_code == 201, response.text
    return response.json()


def history(api, stack, album_id: str, hook_id: str) -> dict:
    response = api("alice").get(f"{hooks_url(stack, album_id)}/{hook_id}")
    assert response.status_code == 200, response.text
    return response.json()


def settled(api, stack, album_id, hook_id, count: int = 1):
    """The webhook's history once `count` triggers are no longer pending."""
    def done():
        found = history(api, stack, album_id, hook_id)
        triggers = found["triggers"]
        return found if len(triggers) >= count and all(t["status"] != "pending" for t in triggers) else None
    return wait_until(done, timeout=90)


def study_datasets(count: int, series_count: int = 1) -> list[pydicom.Dataset]:
    """`count` CT instances of one new study, spread over `series_count` new series."""
    template = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    study = generate_uid()
    series = [generate_uid() for _ in range(series_count)]
    datasets = []
    for index in range(count):
        ds = copy.deepcopy(template)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series[index % series_count]
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.InstanceNumber = index + 1
        datasets.append(ds)
    return datasets


def stow(stack, token: str, album_id: str | None, datasets) -> None:
    """One STOW-RS request into the album (None: into the caller's inbox)."""
    boundary = "obeliskboundary"
    parts = []
    for ds in datasets:
        buffer = BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        parts.append(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + buffer.getvalue() + b"\r\n")
    response = requests.post(
        f"{stack.api_url}/studies", params={"album": album_id} if album_id else {}, data=b"".join(parts) + f"--{boundary}--\r\n".encode(),
        headers={"Authorization": f"Bearer {token}",
                 "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}'},
        timeout=60,
    )
    assert response.status_code == 200, response.text


def imported_events(album_id: str, series_uid: str) -> int:
    """IMPORT_SERIES events of the series in the album's history (ingest records them once it
    calls `import_series`; until then the test publishes them itself)."""
    from chalicelib.store.models import AlbumEvent

    return sum(1 for e in AlbumEvent.query(f"ALBUM#{album_id}", AlbumEvent.sk.startswith("EVENT#"))
               if e.mutation_type == "IMPORT_SERIES" and series_uid in (e.series_uids or []))


def principal_of(user):
    from chalicelib.auth.principals import USER, Principal

    return Principal(kind=USER, user=user)


# ---- management ---------------------------------------------------------------------------

def test_only_album_admins_manage_webhooks(stack, api, album, receiver):
    form = {"url": receiver.url, "name": "x", "event": "new_user"}
    assert api("bob").post(hooks_url(stack, album), data=form).status_code == 403
    refused = api("carol").post(hooks_url(stack, album), data=form)
    assert refused.status_code == 404 and refused.json()["message"] == "Album Not Found"
    assert api(None).get(hooks_url(stack, album)).status_code == 401
    assert api("bob").get(hooks_url(stack, album)).status_code == 403


def test_create_list_edit_and_delete_a_webhook(stack, api, album, receiver):
    created = create_hook(api, stack, album, receiver.url, events=("NEW_SERIES", "new_user"))
    assert re.fullmatch(r"[A-Za-z0-9]{20}", created["id"])
    assert created | {"id": None} == {
        "id": None, "url": receiver.url, "name": "receiver", "use_secret": True,
        "events": ["new_series", "new_user"], "enabled": True, "number_of_triggers": 0, "last_triggers": [],
    }
    listed = api("alice").get(hooks_url(stack, album))
    assert listed.headers["X-Total-Count"] == "1" and [h["id"] for h in listed.json()] == [created["id"]]
    assert api("alice").get(hooks_url(stack, album), params={"url": "http://other.example/"}).json() == []

    one = f"{hooks_url(stack, album)}/{created['id']}"
    edited = api("alice").patch(one, data=[("add_event", "remove_series"), ("remove_event", "new_user"),
                                           ("secret", ""), ("enabled", "false")])
    assert edited.status_code == 200, edited.text
    assert edited.json()["events"] == ["new_series", "remove_series"]
    assert edited.json()["use_secret"] is False and edited.json()["enabled"] is False
    both = api("alice").patch(one, data=[("event", "new_user"), ("add_event", "delete_album")])
    assert both.status_code == 400 and both.json()["message"] == "Bad Form Parameter"
    cleared = api("alice").patch(one, data={"event": ""})
    assert cleared.json()["events"] == []

    assert api("alice").delete(one).status_code == 204
    gone = api("alice").get(one)
    assert gone.status_code == 404 and gone.json()["message"] == "Webhook Not Found"


def test_bad_webhook_forms_are_refused(stack, api, album):
    url = hooks_url(stack, album)
    for form in ({"name": "x"}, {"url": "ftp://example.org/x", "name": "x"},
                 {"url": "http://example.org/x", "name": "  "},
                 {"url": "http://example.org/x", "name": "x", "event": "new_comment"},
                 {"url": "http://example.org/x", "name": "x", "enabled": "maybe"}):
        answer = api("alice").post(url, data=form)
        assert answer.status_code == 400 and answer.json()["message"] == "Bad Form Parameter", form


def test_targets_outside_the_allowlist_are_refused(stack, api, album):
    """The local stack admits 127.0.0.0/8 only: link-local (cloud metadata) and private are refused."""
    for target in ("http://169.254.169.254/latest/meta-data", "http://10.0.0.1/hook", "http://[::1]:8080/hook"):
        answer = api("alice").post(hooks_url(stack, album), data={"url": target, "name": "x"})
        assert answer.status_code == 400, target


# ---- deliveries ---------------------------------------------------------------------------

def test_manual_new_series_delivery_is_signed_and_matches_the_document(stack, api, tokens, album, receiver, people):
    datasets = study_datasets(3)
    stow(stack, tokens("alice"), album, datasets)
    hook = create_hook(api, stack, album, receiver.url)
    study, series = str(datasets[0].StudyInstanceUID), str(datasets[0].SeriesInstanceUID)
    answer = api("alice").post(f"{hooks_url(stack, album)}/{hook['id']}/trigger",
                               data={"event": "new_series", "StudyInstanceUID": study, "SeriesInstanceUID": series})
    assert answer.status_code == 202, answer.text

    delivery = wait_until(lambda: receiver.of_event("new_series"))[0]
    headers = delivery.headers
    assert headers["Content-Type"] == "application/json"
    assert re.fullmatch(r"[A-Za-z0-9]{30}", headers["X-Kheops-Delivery"])
    assert headers["X-Kheops-Attempt"] == "1/5"
    expected = hmac.new(SECRET.encode(), delivery.body, hashlib.sha256).hexdigest()
    assert headers["X-Kheops-Signature"] == expected

    body = delivery.json
    assert body["host"] == stack.public_url and body["album_id"] == album
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+", body["event_time"])
    assert body["is_manual_trigger"] is True
    assert body["source"] == {"email": "alice@example.org", "name": people["alice"].name,
                              "sub": people["alice"].sub, "is_admin": True}
    updated = body["updated_study"]
    assert updated["study_uid"] == study and updated["retrieve_url"] == f"{stack.api_url}/studies/{study}"
    assert updated["patient_name"] == str(datasets[0].PatientName)
    assert updated["patient_ID"] == datasets[0].PatientID and updated["study_date"] == datasets[0].StudyDate
    [entry] = updated["series"]
    assert entry["series_uid"] == series and entry["modality"] == "CT"
    assert entry["retrieve_url"] == f"{stack.api_url}/studies/{study}/series/{series}"
    assert entry["number_of_series_related_instances"] == 3 and entry["number_of_new_instances"] == 3

    found = settled(api, stack, album, hook["id"])
    [trigger] = found["triggers"]
    assert trigger["id"] == headers["X-Kheops-Delivery"] and trigger["is_manual_trigger"] is True
    assert trigger["event"] == "new_series" and trigger["status"] == "pass"
    assert trigger["study"]["study_uid"] == study and trigger["study"]["series"] == [{"series_uid": series}]
    assert [(a["attempt"], a["status"]) for a in trigger["attempts"]] == [(1, 204)]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", trigger["attempts"][0]["time"])
    assert found["number_of_triggers"] == 1
    listed = api("alice").get(hooks_url(stack, album)).json()
    assert listed[0]["last_triggers"] == [{"id": trigger["id"], "status": "pass"}]


def test_manual_trigger_refuses_series_outside_the_album(stack, api, album, receiver):
    hook = create_hook(api, stack, album, receiver.url)
    trigger = f"{hooks_url(stack, album)}/{hook['id']}/trigger"
    missing = api("alice").post(trigger, data={"event": "new_series", "StudyInstanceUID": "1.2.3",
                                               "SeriesInstanceUID": "1.2.3.4"})
    assert missing.status_code == 404
    both = api("alice").post(trigger, data={"event": "new_user", "user": "bob@example.org",
                                            "StudyInstanceUID": "1.2.3"})
    assert both.status_code == 400
    assert api("bob").post(trigger, data={"event": "new_user", "user": "bob@example.org"}).status_code == 403


def test_new_user_event_reaches_subscribed_and_enabled_webhooks_only(stack, api, album, people):
    from chalicelib.events import mutations
    from chalicelib.store.models import AlbumMember

    subscribed, other, disabled = Receiver(), Receiver(), Receiver()
    try:
        create_hook(api, stack, album, subscribed.url, events=("new_user",), secret=None)
        create_hook(api, stack, album, other.url, events=("new_series",))
        off = create_hook(api, stack, album, disabled.url, events=("new_user",))
        api("alice").patch(f"{hooks_url(stack, album)}/{off['id']}", data={"enabled": "false"})
        AlbumMember(*AlbumMember.key(album, people["carol"].sub), member_sub=people["carol"].sub,
                    joined_at="2026-01-01T00:00:00.000").save()
        mutations.record(mutations.mutation_event(album, "ADD_USER", principal_of(people["alice"]),
                                                  target_sub=people["carol"].sub))
        delivery = wait_until(lambda: subscribed.of_event("new_user"))[0]
        assert "X-Kheops-Signature" not in delivery.headers
        body = delivery.json
        assert body["new_user"] == {"email": "carol@example.org", "name": people["carol"].name,
                                    "sub": people["carol"].sub, "is_admin": False}
        assert body["is_manual_trigger"] is False and body["source"]["sub"] == people["alice"].sub
        time.sleep(3)
        assert other.received == [] and disabled.received == []
    finally:
        for server in (subscribed, other, disabled):
            server.close()


def test_remove_series_payloads_for_partial_and_full_removal(stack, api, tokens, album, receiver, people):
    from chalicelib.events import mutations

    datasets = study_datasets(2, series_count=2)
    stow(stack, tokens("alice"), album, datasets)
    create_hook(api, stack, album, receiver.url, events=("remove_series",))
    study = str(datasets[0].StudyInstanceUID)
    alice = principal_of(people["alice"])
    mutations.record(mutations.mutation_event(album, "REMOVE_SERIES", alice, study_uid=study,
                                              series_uids=[str(datasets[0].SeriesInstanceUID)]))
    partial = wait_until(lambda: receiver.of_event("remove_series"))[0].json
    assert partial["remove_all_series"] is False
    assert partial["removed_study"]["retrieve_url"] == f"{stack.api_url}/studies/{study}"
    [series] = partial["removed_study"]["series"]
    assert series["series_uid"] == str(datasets[0].SeriesInstanceUID) and "retrieve_url" not in series

    mutations.record(mutations.mutation_event(album, "REMOVE_STUDY", alice, study_uid=study,
                                              series_uids=[str(ds.SeriesInstanceUID) for ds in datasets]))
    full = wait_until(lambda: len(receiver.of_event("remove_series")) >= 2 and receiver.of_event("remove_series"))[1].json
    assert full["remove_all_series"] is True and "retrieve_url" not in full["removed_study"]
    assert len(full["removed_study"]["series"]) == 2
    assert all("retrieve_url" not in s for s in full["removed_study"]["series"])


def test_delete_album_is_sent_from_the_webhooks_the_message_carries(stack, backend, album, receiver, people):
    """Album deletion (issue 4) publishes DELETE_ALBUM with the album's webhooks; published here."""
    message = {"event_id": "e" * 16, "album_id": album, "mutation_type": "DELETE_ALBUM",
               "post_date": "2026-01-01T00:00:00.000", "actor_sub": people["alice"].sub,
               "details": {"webhooks": [
                   {"id": "w" * 20, "url": receiver.url, "secret": SECRET, "events": ["delete_album"], "enabled": True},
                   {"id": "v" * 20, "url": receiver.url, "secret": None, "events": ["new_user"], "enabled": True},
               ]}}
    from chalicelib.config import settings

    backend.client("sqs").send_message(QueueUrl=backend.queue_url(settings().events_queue),
                                       MessageBody=json.dumps(message))
    delivery = wait_until(lambda: receiver.of_event("delete_album"))[0]
    assert "X-Kheops-Delivery" not in delivery.headers and delivery.headers["X-Kheops-Attempt"] == "1/5"
    assert delivery.headers["X-Kheops-Signature"] == hmac.new(SECRET.encode(), delivery.body, hashlib.sha256).hexdigest()
    assert set(delivery.json) == {"host", "album_id", "event_time", "source", "is_manual_trigger"}
    assert delivery.json["source"]["is_admin"] is True
    time.sleep(2)
    assert len(receiver.received) == 1


def test_receiver_down_for_three_attempts_then_up_gets_the_delivery_once(stack, api, album, people):
    down_then_up = Receiver(answers=[503, 503, 503])
    try:
        hook = create_hook(api, stack, album, down_then_up.url, events=("new_user",))
        api("alice").post(f"{hooks_url(stack, album)}/{hook['id']}/trigger",
                          data={"event": "new_user", "user": "bob@example.org"})
        found = settled(api, stack, album, hook["id"])
        [trigger] = found["triggers"]
        assert trigger["status"] == "pass"
        assert [(a["attempt"], a["status"]) for a in trigger["attempts"]] == [(1, 503), (2, 503), (3, 503), (4, 204)]
        time.sleep(4)  # no attempt after the success
        got = down_then_up.received
        assert [r.headers["X-Kheops-Attempt"] for r in got] == ["1/5", "2/5", "3/5", "4/5"]
        assert {r.headers["X-Kheops-Delivery"] for r in got} == {trigger["id"]}
        assert len({r.body for r in got}) == 1  # every attempt sends the same bytes
        assert [r.answered for r in got].count(204) == 1
        gaps = [later.at - earlier.at for earlier, later in zip(got, got[1:], strict=False)]
        assert all(gap >= 1.9 for gap in gaps), gaps  # the configured retry delays (2 s in tests)
    finally:
        down_then_up.close()


def test_receiver_that_never_answers_gets_five_attempts_then_dead_letter(stack, backend, api, album):
    from chalicelib.config import settings

    silent = SilentReceiver()
    try:
        hook = create_hook(api, stack, album, silent.url, events=("new_user",))
        api("alice").post(f"{hooks_url(stack, album)}/{hook['id']}/trigger",
                          data={"event": "new_user", "user": "bob@example.org"})
        found = settled(api, stack, album, hook["id"])
        [trigger] = found["triggers"]
        assert trigger["status"] == "fail"
        assert [(a["attempt"], a["status"]) for a in trigger["attempts"]] == [(n, -1) for n in range(1, 6)]
        assert len(silent.connections) == 5

        sqs = backend.client("sqs")
        dlq = backend.queue_url(settings().deliveries_dlq)

        def parked():
            for message in sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
                body = json.loads(message["Body"])
                if body.get("trigger_id") == trigger["id"]:
                    return body
            return None
        body = wait_until(parked, timeout=30)
        assert body["attempt"] == 5 and body["last_status"] == -1
    finally:
        silent.close()


def test_forty_instances_in_several_stow_requests_make_one_new_series(stack, api, tokens, album, receiver, people):
    """Four STOW requests of 10 instances, each within the quiet period of the previous one, the
    whole upload longer than it. Until ingest calls `import_series` (issue 5), the test publishes
    what ingest will: IMPORT_SERIES for the new series, then INSTANCES_ADDED per request."""
    from chalicelib.events import mutations

    create_hook(api, stack, album, receiver.url, events=("new_series",))
    datasets = study_datasets(40)
    study, series = str(datasets[0].StudyInstanceUID), str(datasets[0].SeriesInstanceUID)
    alice = principal_of(people["alice"])
    quiet = int(TEST_STACK_ENV["OBELISK_WEBHOOK_DEBOUNCE_SECONDS"])
    ingest_publishes = None
    stored_at: list[float] = []
    for index, start in enumerate(range(0, 40, 10)):
        if index:  # at least half a quiet period apart, so that the upload outlasts the quiet period
            time.sleep(max(0.0, stored_at[-1] + quiet / 2 - time.time()))
        stow(stack, tokens("alice"), album, datasets[start:start + 10])
        stored_at.append(time.time())
        if ingest_publishes is None:
            ingest_publishes = imported_events(album, series) > 0
        if not ingest_publishes:
            mutations.import_series(album, alice, study, {series: 10}, {series} if index == 0 else set())
    gaps = [later - earlier for earlier, later in zip(stored_at, stored_at[1:], strict=False)]
    assert max(gaps) < quiet - 1, f"STOW requests too slow on this machine for the test: {gaps}"
    assert stored_at[-1] - stored_at[0] > quiet
    delivery = wait_until(lambda: receiver.of_event("new_series"), timeout=60)[0]
    assert delivery.at - stored_at[-1] >= quiet - 1  # a quiet period after the last change
    time.sleep(3)
    assert len(receiver.of_event("new_series")) == 1
    body = delivery.json
    assert body["import_source"] == "upload" and body["is_manual_trigger"] is False
    [entry] = body["updated_study"]["series"]
    assert entry["series_uid"] == series
    assert entry["number_of_new_instances"] == 40 and entry["number_of_series_related_instances"] == 40


def test_killing_the_delivery_worker_midway_loses_no_delivery(stack, api, album):
    slow = Receiver(answers=[None], hold=4.0)
    try:
        hook = create_hook(api, stack, album, slow.url, events=("new_user",))
        trigger_url = f"{hooks_url(stack, album)}/{hook['id']}/trigger"
        for user in ("bob@example.org", "alice@example.org", "bob@example.org"):
            assert api("alice").post(trigger_url, data={"event": "new_user", "user": user}).status_code == 202
        assert slow.arrived.wait(30)  # the first delivery is in flight, held by the receiver
        stack.kill_pollers()
        stack.start_pollers()
        found = settled(api, stack, album, hook["id"], count=3)
        assert [t["status"] for t in found["triggers"]] == ["pass"] * 3
        delivered = {r.headers["X-Kheops-Delivery"] for r in slow.received if r.answered == 204}
        assert delivered == {t["id"] for t in found["triggers"]}
        interrupted = slow.received[0].headers["X-Kheops-Delivery"]
        sent = [r.headers["X-Kheops-Delivery"] for r in slow.received]
        assert sent.count(interrupted) == 2  # cut off by the kill, then sent again after restart
        [again] = [t for t in found["triggers"] if t["id"] == interrupted]
        assert [(a["attempt"], a["status"]) for a in again["attempts"]] == [(1, 204)]

        page = api("alice").get(f"{hooks_url(stack, album)}/{hook['id']}", params={"limit": 1, "offset": 1})
        assert page.headers["X-Total-Count"] == "3"
        assert [t["id"] for t in page.json()["triggers"]] == [found["triggers"][1]["id"]]
        assert api("alice").get(f"{hooks_url(stack, album)}/{hook['id']}", params={"limit": 0}).status_code == 400
    finally:
        slow.close()


# ---- an admin added later (docs/webhooks.md, "Pinned when the trigger is made") -------------
# alice adds a series to her album by mistake and removes it at once, then makes bob an admin:
# nothing of that series may reach bob, through the trigger history or through a URL he sets.

def shared_album(stack, api, tokens, series_count: int) -> tuple[str, str, list[str]]:
    """A new album of alice's (via the API) and a new study of `series_count` series in her inbox:
    (album, study, series)."""
    datasets = study_datasets(series_count, series_count=series_count)
    stow(stack, tokens("alice"), None, datasets)
    album = api("alice").post(f"{stack.api_url}/albums", data={"name": "quiet"}).json()["album_id"]
    return album, str(datasets[0].StudyInstanceUID), sorted({str(ds.SeriesInstanceUID) for ds in datasets})


def put_series(stack, api, album: str, study: str, series: str) -> None:
    answer = api("alice").put(f"{stack.api_url}/studies/{study}/series/{series}/albums/{album}",
                              params={"inbox": "true"})
    assert answer.status_code == 201, answer.text


def remove_series(stack, api, album: str, study: str, series: str) -> None:
    answer = api("alice").delete(f"{stack.api_url}/studies/{study}/series/{series}/albums/{album}")
    assert answer.status_code == 204, answer.text


def make_bob_admin(stack, api, album: str) -> None:
    members = f"{stack.api_url}/albums/{album}/users/bob@example.org"
    assert api("alice").put(members).status_code == 201
    assert api("alice").put(f"{members}/admin").status_code == 204


def quiet_period_items(album: str) -> int:
    """The album's new_series quiet-period items (pending, or claimed and being sent)."""
    from chalicelib.store.models import PendingNewSeries

    found = PendingNewSeries._get_connection().query(f"ALBUM#{album}", PendingNewSeries.sk.startswith("NEWSERIES"))
    return int(found["Count"])


def quiet_period_over(album: str) -> None:
    """Waits for the quiet period to begin (the import was collected), then to be over and sent."""
    wait_until(lambda: quiet_period_items(album) > 0, timeout=30)
    wait_until(lambda: quiet_period_items(album) == 0, timeout=90)


def test_a_series_gone_before_the_quiet_period_ends_makes_no_new_series_trigger(stack, backend, api, tokens,
                                                                                   receiver, people):
    album, study, [series] = shared_album(stack, api, tokens, 1)
    hook = create_hook(api, stack, album, receiver.url, events=("new_series",))
    put_series(stack, api, album, study, series)
    remove_series(stack, api, album, study, series)
    make_bob_admin(stack, api, album)
    quiet_period_over(album)

    seen = api("bob").get(f"{hooks_url(stack, album)}/{hook['id']}")
    assert seen.status_code == 200
    assert seen.json()["triggers"] == [] and seen.headers["X-Total-Count"] == "0"
    assert study not in seen.text and series not in seen.text
    assert history(api, stack, album, hook["id"])["triggers"] == []  # for no one, alice included
    assert receiver.of_event("new_series") == []


def test_a_url_set_in_the_quiet_period_gets_only_the_series_still_in_the_album(stack, backend, api, tokens,
                                                                                receiver, people):
    album, study, [gone, kept] = shared_album(stack, api, tokens, 2)
    hook = create_hook(api, stack, album, receiver.url, events=("new_series",))
    for series in (gone, kept):
        put_series(stack, api, album, study, series)
    remove_series(stack, api, album, study, gone)
    make_bob_admin(stack, api, album)
    bobs = Receiver()
    try:
        answer = api("bob").patch(f"{hooks_url(stack, album)}/{hook['id']}", data={"url": bobs.url})
        assert answer.status_code == 200, answer.text
        [delivery] = wait_until(lambda: bobs.of_event("new_series"), timeout=90)
        assert [s["series_uid"] for s in delivery.json["updated_study"]["series"]] == [kept]
        assert gone.encode() not in delivery.body
        [trigger] = settled(api, stack, album, hook["id"])["triggers"]
        assert trigger["study"]["series"] == [{"series_uid": kept}]
        assert gone not in api("bob").get(f"{hooks_url(stack, album)}/{hook['id']}").text
        assert receiver.received == []  # made after the URL changed: it goes to the new one
    finally:
        bobs.close()


def test_retries_of_a_trigger_go_to_the_url_and_secret_it_was_made_with(stack, api, tokens, people):
    down = Receiver(answers=[503, 503, 503, 503])  # the fifth and last attempt succeeds
    bobs = Receiver()
    try:
        album, study, [series] = shared_album(stack, api, tokens, 1)
        hook = create_hook(api, stack, album, down.url, events=("remove_series",))
        put_series(stack, api, album, study, series)
        remove_series(stack, api, album, study, series)
        assert down.arrived.wait(30)  # attempt 1 failed; retries are queued
        make_bob_admin(stack, api, album)
        answer = api("bob").patch(f"{hooks_url(stack, album)}/{hook['id']}",
                                  data={"url": bobs.url, "secret": "bob's own"})
        assert answer.status_code == 200, answer.text

        [trigger] = settled(api, stack, album, hook["id"])["triggers"]
        assert [(a["attempt"], a["status"]) for a in trigger["attempts"]] == [(1, 503), (2, 503), (3, 503),
                                                                              (4, 503), (5, 204)]
        assert bobs.received == []
        got = down.received
        assert [r.headers["X-Kheops-Attempt"] for r in got] == [f"{n}/5" for n in range(1, 6)]
        assert {r.headers["X-Kheops-Delivery"] for r in got} == {trigger["id"]}
        expected = hmac.new(SECRET.encode(), got[0].body, hashlib.sha256).hexdigest()
        assert {r.headers["X-Kheops-Signature"] for r in got} == {expected}
    finally:
        down.close()
        bobs.close()
