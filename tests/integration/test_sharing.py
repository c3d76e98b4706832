"""Sharing the KHEOPS way: inbox, user to user, albums with members and flags, events."""
from __future__ import annotations

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from tests.dicomweb_session import DICOMwebClient
from tests.integration.dicom_samples import load, renewed
from tests.support.api import signed_in


@pytest.fixture(scope="module")
def people(stack, tokens):
    return signed_in(stack, tokens)


@pytest.fixture(scope="module")
def mr(stack, tokens):
    dataset = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    DICOMwebClient(stack.api_url, headers={"Authorization": f"Bearer {tokens('alice')}"}).store_instances([dataset])
    return dataset


def test_the_album_story(people, mr):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    study, series = str(mr.StudyInstanceUID), str(mr.SeriesInstanceUID)

    assert study not in bob.study_uids()
    assert alice.put(f"/studies/{study}/series/{series}/users/bob@example.org").status_code == 201
    assert study in bob.study_uids(inbox="true")

    created = alice.post("/albums", data={"name": "Tumor board", "addSeries": "false", "addUser": "false"})
    assert created.status_code == 201
    album = created.json()["album_id"]
    assert created.json()["is_admin"] is True and created.json()["add_series"] is False
    assert alice.put(f"/albums/{album}/users/bob@example.org").status_code == 201
    assert alice.put(f"/albums/{album}/users/carol@example.org").status_code == 201
    assert alice.put(f"/studies/{study}/albums/{album}", params={"inbox": "true"}).status_code == 201

    assert study in carol.study_uids(album=album)
    refused = carol.put(f"/studies/{study}/series/{series}/albums/{album}")
    assert refused.status_code == 403
    assert bob.put(f"/albums/{album}/users/carol@example.org").status_code == 403  # addUser is off

    assert bob.delete(f"/albums/{album}/users/bob@example.org").status_code == 204
    assert bob.get(f"/albums/{album}").status_code == 404
    assert alice.get(f"/albums/{album}").json()["number_of_users"] == 2

    story = [(e["mutation_type"], e.get("target", {}).get("email"))
             for e in reversed(alice.get(f"/albums/{album}/events", params={"types": "mutations"}).json())]
    assert story == [("CREATE_ALBUM", None), ("ADD_USER", "bob@example.org"), ("ADD_USER", "carol@example.org"),
                     ("IMPORT_SERIES", None), ("LEAVE_ALBUM", "bob@example.org")]

    assert alice.delete(f"/albums/{album}/users/alice@example.org").status_code == 204
    assert carol.get(f"/albums/{album}").status_code == 200
    assert carol.delete(f"/albums/{album}/users/carol@example.org").status_code == 204
    assert carol.get(f"/albums/{album}").status_code == 404
    assert alice.get(f"/albums/{album}").status_code == 404


def test_album_existence_is_hidden_from_non_members(people):
    album = people["alice"].post("/albums", data={"name": "private"}).json()["album_id"]
    bob = people["bob"]
    for method, path in (("get", f"/albums/{album}"), ("get", f"/albums/{album}/users"),
                         ("get", f"/albums/{album}/events"), ("delete", f"/albums/{album}"),
                         ("get", "/studies?album=" + album)):
        assert getattr(bob, method)(path).status_code == 404, path
    assert bob.get("/albums/doesNotExi").status_code == 404


def test_members_without_admin_cannot_edit_or_delete(people):
    alice, bob = people["alice"], people["bob"]
    album = alice.post("/albums", data={"name": "edit me"}).json()["album_id"]
    alice.put(f"/albums/{album}/users/bob@example.org")
    assert bob.patch(f"/albums/{album}", data={"name": "mine now"}).status_code == 403
    assert bob.patch(f"/albums/{album}", data={"notificationNewSeries": "false"}).json()["notification_new_series"] is False
    assert bob.delete(f"/albums/{album}").status_code == 403
    assert alice.put(f"/albums/{album}/users/bob@example.org/admin").status_code == 204
    assert bob.patch(f"/albums/{album}", data={"name": "shared"}).json()["name"] == "shared"
    assert alice.delete(f"/albums/{album}").status_code == 204


def test_study_sharing_refusals(people, mr):
    alice, carol = people["alice"], people["carol"]
    study = str(mr.StudyInstanceUID)
    assert carol.put(f"/studies/{study}/users/bob@example.org", params={"inbox": "true"}).status_code == 404
    assert alice.put(f"/studies/{study}/users/nobody@example.org", params={"inbox": "true"}).status_code == 404
    assert alice.put(f"/studies/{study}/users/bob@example.org").status_code == 400
    assert alice.put("/studies/not-a-uid/users/bob@example.org", params={"inbox": "true"}).status_code == 400


def test_removing_from_the_inbox(people, stack, tokens):
    ct = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ct.StudyInstanceUID, ct.SeriesInstanceUID, ct.SOPInstanceUID = generate_uid(), generate_uid(), generate_uid()
    DICOMwebClient(stack.api_url, headers={"Authorization": f"Bearer {tokens('carol')}"}).store_instances([ct])
    carol = people["carol"]
    study = str(ct.StudyInstanceUID)
    assert study in carol.study_uids(inbox="true")
    assert people["bob"].delete(f"/studies/{study}").status_code == 404
    assert carol.delete(f"/studies/{study}").status_code == 204
    assert study not in carol.study_uids(inbox="true")


def test_user_lookup_and_inbox_info(people, mr):
    alice = people["alice"]
    assert alice.get("/users", params={"reference": "BOB@example.org"}).json()["email"] == "bob@example.org"
    assert alice.get("/users", params={"reference": "ghost@example.org"}).status_code == 204
    assert alice.get("/users", params={"search": "ab"}).status_code == 400
    info = alice.get("/inboxinfo").json()
    assert info["number_of_studies"] >= 1 and "MR" in info["modalities"]


def test_study_comments_public_and_private(people, stack, tokens):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    ct = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ct.StudyInstanceUID, ct.SeriesInstanceUID, ct.SOPInstanceUID = generate_uid(), generate_uid(), generate_uid()
    DICOMwebClient(stack.api_url, headers={"Authorization": f"Bearer {tokens('alice')}"}).store_instances([ct])
    study = str(ct.StudyInstanceUID)
    assert alice.put(f"/studies/{study}/users/bob@example.org", params={"inbox": "true"}).status_code == 201
    assert alice.post(f"/studies/{study}/comments", data={"comment": "for everyone"}).status_code == 204
    assert alice.post(f"/studies/{study}/comments", data={"comment": "just bob", "to_user": "bob@example.org"}).status_code == 204
    assert alice.post(f"/studies/{study}/comments", data={"comment": "x", "to_user": "carol@example.org"}).status_code == 404
    assert carol.get(f"/studies/{study}/comments").status_code == 404
    seen_by_bob = [c["comment"] for c in bob.get(f"/studies/{study}/comments").json()]
    assert seen_by_bob == ["just bob", "for everyone"]
    listed = alice.get("/studies", params={"StudyInstanceUID": study, "inbox": "true", "includefield": "comments"})
    assert listed.json()[0]["00012346"]["Value"] == [2]


def test_favorites_in_the_inbox(people, mr):
    alice = people["alice"]
    study, series = str(mr.StudyInstanceUID), str(mr.SeriesInstanceUID)
    assert alice.put(f"/studies/{study}/series/{series}/favorites", params={"inbox": "true"}).status_code == 204
    assert study in alice.study_uids(inbox="true", favorite="true")
    assert alice.delete(f"/studies/{study}/favorites", params={"inbox": "true"}).status_code == 204
    assert study not in alice.study_uids(inbox="true", favorite="true")
    assert alice.put(f"/studies/{study}/favorites").status_code == 400
    assert people["carol"].put(f"/studies/{study}/favorites", params={"inbox": "true"}).status_code == 404


def test_album_admins_see_who_read_which_series(people, stack, tokens):
    alice, bob = people["alice"], people["bob"]
    ct = renewed(load("CT_small.dcm"))
    DICOMwebClient(stack.api_url, headers={"Authorization": f"Bearer {tokens('alice')}"}).store_instances([ct])
    album = alice.post("/albums", data={"name": "audited"}).json()["album_id"]
    alice.put(f"/albums/{album}/users/bob@example.org")
    alice.put(f"/studies/{ct.StudyInstanceUID}/albums/{album}", params={"inbox": "true"})
    path = f"/studies/{ct.StudyInstanceUID}/series/{ct.SeriesInstanceUID}/instances/{ct.SOPInstanceUID}"
    for _ in range(3):  # one viewer session: recorded once
        assert bob.get(path, params={"album": album}, allow_redirects=False).status_code == 303
    reads = alice.get(f"/albums/{album}/reads").json()
    bobs = [r for r in reads if r["sub"] == bob.get("/users", params={"reference": "bob@example.org"}).json()["sub"]]
    assert len(bobs) == 1 and bobs[0]["series_uid"] == str(ct.SeriesInstanceUID) and bobs[0]["token_kind"] == "user"
    assert bob.get(f"/albums/{album}/reads").status_code == 403
    assert people["carol"].get(f"/albums/{album}/reads").status_code == 404
