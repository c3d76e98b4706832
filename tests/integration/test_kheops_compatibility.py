"""What KHEOPS clients rely on (docs/kheops-compatibility.md): body-less PUTs with a form content
type, appropriating studies and series (also from a share link, `X-Authorization-Source`), claims,
album listings and filters, events, capability responses, QIDO and WADO-URI details, and the
answers to unknown routes. Each test pins a behaviour KHEOPS's own integration suite exercises."""
from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta

import pydicom
import pytest
import requests
from PIL import Image
from pydicom.uid import generate_uid

from tests.integration.dicom_samples import load, part10
from tests.support import api

FORM = {"Content-Type": "application/x-www-form-urlencoded"}  # what KHEOPS clients send, body or not


class Api(api.Api):
    """One demo user's view of the API, with the albums and STOWs these tests make."""

    def album(self, **form) -> str:
        created = self.post("/albums", data={"name": f"compat {uuid.uuid4().hex[:8]}", **form})
        assert created.status_code == 201, created.text
        return created.json()["album_id"]

    def stow(self, dataset: pydicom.Dataset, **params) -> None:
        stored = self.post("/studies", data=part10(dataset), params=params, headers={"Content-Type": "application/dicom"})
        assert stored.status_code == 200, stored.text


@pytest.fixture(scope="module")
def people(stack, tokens):
    return api.signed_in(stack, tokens, kind=Api)


def _capability(api: Api, album: str, **flags) -> str:
    created = api.post("/capabilities", data={"title": "link", "scope_type": "album", "album": album, **flags})
    assert created.status_code == 201, created.text
    return created.json()["access_token"]


def test_body_less_puts_with_a_form_content_type_are_accepted(people):
    alice = people["alice"]
    ct = load("CT_small.dcm")
    alice.stow(ct)
    study, series = str(ct.StudyInstanceUID), str(ct.SeriesInstanceUID)
    album = alice.album()
    assert alice.put(f"/studies/{study}/albums/{album}", params={"inbox": "true"}, headers=FORM).status_code == 201
    assert alice.put(f"/studies/{study}/series/{series}/albums/{album}", headers=FORM).status_code == 201
    assert alice.put(f"/studies/{study}/users/bob@example.org", params={"inbox": "true"}, headers=FORM).status_code == 201
    assert alice.put(f"/studies/{study}/series/{series}/users/carol@example.org", headers=FORM).status_code == 201
    assert alice.put(f"/albums/{album}/favorites", headers={"Content-Type": "multipart/form-data"}).status_code == 204
    assert study in people["carol"].study_uids(inbox="true")
    # a body the route does not read is still refused, in the documented error shape
    refused = alice.put(f"/albums/{album}/favorites", data=b"<x/>", headers={"Content-Type": "application/xml"})
    assert refused.status_code == 415 and set(refused.json()) == {"message", "detail"}
    # a JSON body is ignored, as documented (clients that always send JSON send {}: outside check, round 12)
    assert alice.put(f"/albums/{album}/favorites", json={}).status_code == 204
    assert alice.put(f"/studies/{study}/users/carol@example.org", params={"inbox": "true"},
                     data=b'{"x": 1}', headers={"Content-Type": "application/json"}).status_code == 201


def test_appropriating_a_study_or_series_from_an_album_into_the_inbox(people):
    alice, bob = people["alice"], people["bob"]
    album = alice.album()
    ct = load("CT_small.dcm")
    alice.stow(ct, album=album)
    study, series = str(ct.StudyInstanceUID), str(ct.SeriesInstanceUID)
    assert alice.put(f"/albums/{album}/users/bob@example.org").status_code == 201
    assert study not in bob.study_uids(inbox="true")
    assert bob.put(f"/studies/{study}", params={"album": album}).status_code == 201
    assert study in bob.study_uids(inbox="true")
    assert bob.delete(f"/studies/{study}").status_code == 204
    assert bob.put(f"/studies/{study}/series/{series}").status_code == 201
    assert study in bob.study_uids(inbox="true")
    # a write-only album token appropriates into its own album, from a share link of the source
    # (KHEOPS's "karnak" flow); without the link it reads nothing there
    destination = alice.album()
    token = {"Authorization": f"Bearer {_capability(alice, destination, write_permission='true')}", **FORM}
    link = _capability(alice, album, read_permission="true", appropriate_permission="true")
    url = f"{alice.base}/studies/{study}/series/{series}"
    assert requests.put(url, headers=token, timeout=30).status_code == 404
    assert requests.put(url, headers={**token, "X-Authorization-Source": f"Bearer {link}"}, timeout=30).status_code == 201
    assert study in alice.study_uids(album=destination)


def test_a_series_seen_only_through_an_album_without_send_rights_cannot_be_appropriated(people):
    alice, carol = people["alice"], people["carol"]
    album = alice.album(sendSeries="false")
    ct = load("CT_small.dcm")
    alice.stow(ct, album=album)
    study, series = str(ct.StudyInstanceUID), str(ct.SeriesInstanceUID)
    assert alice.put(f"/albums/{album}/users/carol@example.org").status_code == 201
    assert study in carol.study_uids(album=album)
    assert carol.put(f"/studies/{study}", params={"album": album}).status_code == 403
    assert carol.put(f"/studies/{study}").status_code == 403
    assert carol.put(f"/studies/{study}/series/{series}").status_code == 404
    assert carol.put(f"/studies/{study}/series/{series}/albums/{carol.album()}").status_code == 404
    assert study not in carol.study_uids(inbox="true")


def test_importing_from_a_share_link_with_x_authorization_source(people):
    alice, bob = people["alice"], people["bob"]
    album = alice.album()
    ct = load("CT_small.dcm")
    alice.stow(ct, album=album)
    study, series = str(ct.StudyInstanceUID), str(ct.SeriesInstanceUID)
    link = _capability(alice, album, read_permission="true", appropriate_permission="true")
    source = {"X-Authorization-Source": f"Bearer {link}"}

    # the source token reads nothing for the caller: only the copy uses it
    assert bob.get(f"/studies/{study}/series", headers=source).status_code == 404
    assert bob.put(f"/studies/{study}", headers=source).status_code == 201
    assert study in bob.study_uids(inbox="true")
    assert bob.delete(f"/studies/{study}").status_code == 204
    assert bob.put(f"/studies/{study}/series/{series}", headers=source).status_code == 201
    destination = bob.album()
    assert bob.put(f"/studies/{study}/albums/{destination}", headers={**source, **FORM}).status_code == 201
    assert study in bob.study_uids(album=destination)
    # the destination rights are the Bearer's: alice's album is not bob's to fill
    assert bob.put(f"/studies/{study}/albums/{album}", headers=source).status_code == 404

    # a link without the appropriate permission: the study is seen (403), the series 404
    reader = _capability(alice, album, read_permission="true", write_permission="true")
    carol = people["carol"]
    assert carol.put(f"/studies/{study}", headers={"X-Authorization-Source": f"Bearer {reader}"}).status_code == 403
    assert carol.put(f"/studies/{study}/series/{series}",
                     headers={"X-Authorization-Source": f"Bearer {reader}"}).status_code == 404
    assert study not in carol.study_uids(inbox="true")
    # only album capability tokens are sources; a token that does not verify is refused
    user_token = {"X-Authorization-Source": f"Bearer {bob.session.headers['Authorization'].split()[1]}"}
    assert carol.put(f"/studies/{study}", headers=user_token).status_code == 403
    assert carol.put(f"/studies/{study}", headers={"X-Authorization-Source": "Bearer nope"}).status_code == 403


def test_claiming_a_series_not_stored_here_answers_201(people):
    alice, bob = people["alice"], people["bob"]
    album = alice.album()
    study, series = generate_uid(), generate_uid()
    assert alice.put(f"/studies/{study}/series/{series}/albums/{album}", headers=FORM).status_code == 201
    assert alice.put(f"/studies/{study}/series/{series}").status_code == 201
    # a series stored here that the caller may not send stays hidden
    ct = load("CT_small.dcm")
    alice.stow(ct)
    assert bob.put(f"/studies/{ct.StudyInstanceUID}/series/{ct.SeriesInstanceUID}").status_code == 404
    assert str(ct.StudyInstanceUID) not in bob.study_uids()


def test_album_members_are_listed_by_email(people):
    alice = people["alice"]
    album = alice.album()
    for user in ("carol", "bob"):
        assert alice.put(f"/albums/{album}/users/{user}@example.org").status_code == 201
    expected = ["alice@example.org", "bob@example.org", "carol@example.org"]
    assert [u["email"] for u in alice.get(f"/albums/{album}/users").json()] == expected
    assert [u["email"] for u in alice.get(f"/albums/{album}", params={"includeUsers": "true"}).json()["users"]] \
        == expected


def test_event_people_say_whether_they_can_still_access_the_album(people):
    alice, bob = people["alice"], people["bob"]
    album = alice.album()
    assert alice.put(f"/albums/{album}/users/bob@example.org").status_code == 201
    assert alice.delete(f"/albums/{album}/users/bob@example.org").status_code == 204
    events = alice.get(f"/albums/{album}/events").json()
    removed = next(e for e in events if e.get("mutation_type") == "REMOVE_USER")
    assert removed["source"]["can_access"] is True and removed["target"]["can_access"] is False
    assert bob.get(f"/albums/{album}").status_code == 404


def test_album_list_filters_as_kheops_reads_them(people):
    alice = people["alice"]
    tag = uuid.uuid4().hex[:6]
    names = [f"{tag} new album", f"{tag} new album1", f"re {tag} edit name"]
    albums = [alice.post("/albums", data={"name": n}).json()["album_id"] for n in names]

    def listed(**params) -> list[str]:
        response = alice.get("/albums", params=params)
        assert response.status_code == 200, response.text
        return [a["album_id"] for a in response.json()]

    assert listed(name=names[0]) == [albums[0]]  # the whole name, not a substring
    assert listed(name=f"{tag} new album".upper()) == [albums[0]]
    assert not set(listed(name="new album")) & set(albums)
    assert set(listed(name=f"{tag} new*")) == set(albums[:2])
    assert set(listed(name=f"*{tag} edit name")) == {albums[2]}
    assert alice.put(f"/albums/{albums[1]}/favorites").status_code == 204
    favorites = listed(favorite="True")
    assert albums[1] in favorites and albums[0] not in favorites
    assert albums[0] in listed(canAddSeries="TRUE") and albums[0] in listed(canCreateCapabilityToken="True")
    assert alice.get("/albums", params={"favorite": "maybe"}).status_code == 400


def test_album_list_filters_on_creation_and_last_event_days(people):
    """`created_time` and `last_event_time` take KHEOPS's day ranges (yyyyMMdd, a-b, -b, a-);
    days around today so that the test holds across midnight."""
    alice = people["alice"]
    album = alice.post("/albums", data={"name": f"dated {uuid.uuid4().hex[:8]}"}).json()["album_id"]
    today = datetime.now(UTC).date()
    yesterday, tomorrow = (f"{d:%Y%m%d}" for d in (today - timedelta(days=1), today + timedelta(days=1)))

    def listed(**params) -> bool:
        response = alice.get("/albums", params={**params, "limit": "1000"})
        assert response.status_code == 200, response.text
        return album in [a["album_id"] for a in response.json()]

    for field in ("created_time", "last_event_time"):
        assert listed(**{field: f"{yesterday}-{tomorrow}"}) and listed(**{field: f"{yesterday}-"})
        assert listed(**{field: f"-{tomorrow}"})
        assert not listed(**{field: f"-{yesterday}"}) and not listed(**{field: f"{tomorrow}-"})
        assert not listed(**{field: "20000101"})
    for bad in ("2026-12-06", "20261301", "20260230", "yesterday", "20261206-20261207-", "-"):
        refused = alice.get("/albums", params={"created_time": bad})
        assert refused.status_code == 400 and refused.json()["message"] == "Bad Query Parameter", bad


def test_album_names_match_fuzzily_by_soundex(people):
    alice = people["alice"]
    album = alice.post("/albums", data={"name": "Zyxwv tumour board"}).json()["album_id"]
    assert album not in [a["album_id"] for a in alice.get("/albums", params={"name": "Zikfb tumor brd"}).json()]
    fuzzy = alice.get("/albums", params={"name": "Zikfb tumor brd", "fuzzymatching": "True"}).json()
    assert album in [a["album_id"] for a in fuzzy]


def test_a_capability_names_its_album(people):
    alice = people["alice"]
    name = f"named {uuid.uuid4().hex[:6]}"
    album = alice.post("/albums", data={"name": name}).json()["album_id"]
    created = alice.post("/capabilities", data={"title": "t", "scope_type": "album", "album": album,
                                                 "read_permission": "True"})
    assert created.status_code == 201
    assert created.json()["album"] == {"album_id": album, "name": name}
    assert alice.get(f"/capabilities/{created.json()['id']}").json()["album"]["name"] == name
    listed = alice.get("/capabilities", params={"album": album}).json()
    assert [c["album"]["name"] for c in listed] == [name]


def test_study_search_by_modality_reads_modalities_in_study(people):
    alice = people["alice"]
    album = alice.album()
    ct = load("CT_small.dcm")
    alice.stow(ct, album=album)
    study = str(ct.StudyInstanceUID)
    assert alice.study_uids(album=album, Modality="CT") == {study}
    assert alice.study_uids(album=album, Modality="MR") == set()
    assert alice.study_uids(album=album, ModalitiesInStudy="CT") == {study}
    assert alice.study_uids(album=album, SeriesDescription="no such series") == {study}  # not a study key


def test_wado_uri_without_object_uid_answers_an_image_of_the_series(people):
    alice = people["alice"]
    ct = load("CT_small.dcm")
    alice.stow(ct)
    answer = alice.get("/wado", params={"requestType": "WADO", "studyUID": str(ct.StudyInstanceUID),
                                        "seriesUID": str(ct.SeriesInstanceUID), "contentType": "image/jpeg"})
    assert answer.status_code == 200, answer.text
    assert Image.open(io.BytesIO(answer.content)).format == "JPEG"
    no_object = alice.get("/wado", params={"requestType": "WADO", "studyUID": str(ct.StudyInstanceUID),
                                           "seriesUID": str(ct.SeriesInstanceUID), "contentType": "application/dicom"})
    assert no_object.status_code == 400
    assert people["bob"].get("/wado", params={"requestType": "WADO", "studyUID": str(ct.StudyInstanceUID),
                                              "seriesUID": str(ct.SeriesInstanceUID)}).status_code == 404


@pytest.mark.parametrize("authorization", [None, "Bearer whatever"])
def test_an_unknown_route_is_404_in_the_error_shape(stack, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    answer = requests.get(f"{stack.api_url}/no/such/route", headers=headers, timeout=10)
    assert answer.status_code == 404
    assert answer.json()["message"] == "Not Found" and answer.json()["detail"]


def test_empty_values_in_multi_valued_attributes_are_null(people):
    alice = people["alice"]
    ct = load("CT_small.dcm")
    ct.ImageType = ["ORIGINAL", "", "AXIAL"]
    ct.add_new(0x00081060, "PN", "Doe^John\\\\Roe^Jane")  # NameOfPhysiciansReadingStudy, an empty middle value
    alice.stow(ct)
    path = f"/studies/{ct.StudyInstanceUID}/series/{ct.SeriesInstanceUID}/instances/{ct.SOPInstanceUID}/metadata"
    metadata = alice.get(path, headers={"Accept": "application/dicom+json"})
    assert metadata.status_code == 200, metadata.text
    instance = metadata.json()[0]
    assert instance["00080008"]["Value"] == ["ORIGINAL", None, "AXIAL"]
    assert instance["00081060"]["Value"] == [{"Alphabetic": "Doe^John"}, None, {"Alphabetic": "Roe^Jane"}]
