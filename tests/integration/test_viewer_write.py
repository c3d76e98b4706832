"""OHIF saves its annotations back (a DICOM SR through STOW) with the viewer token of a secure
launch: a `write` launch stores into the launched study, where the user and the album see it; a
read-only launch, another study or another album are refused. The token is obtained the way OHIF
gets it: launch ticket cookie, `/authorize` with PKCE, code at `/token` (docs/report-providers.md)."""
from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlsplit

import pydicom
import pytest
import requests
from pydicom.data import get_testdata_file

from tests.integration import dicom_samples as samples

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def ohif_token(stack, user_token: str, study_uid: str, album: str | None = None) -> dict:
    """What OHIF ends up holding after the web app launched it for this study and source."""
    session = requests.Session()
    launched = session.post(f"{stack.api_url}/viewer/launch", allow_redirects=False, timeout=30, data={
        "access_token": user_token, "studyUID": study_uid,
        **({"source_type": "album", "source_id": album} if album else {"source_type": "inbox"})})
    assert launched.status_code == 303, launched.text
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    callback = stack.ohif_url + "/callback"
    authorized = session.get(f"{stack.api_url}/authorize", allow_redirects=False, timeout=30, params={
        "response_type": "code", "client_id": "ohif", "redirect_uri": callback, "state": "s",
        "code_challenge": challenge, "code_challenge_method": "S256", "scope": "openid viewer"})
    code = parse_qs(urlsplit(authorized.headers["Location"]).query)["code"][0]
    answer = requests.post(f"{stack.api_url}/token", timeout=30, data={
        "grant_type": "authorization_code", "client_id": "ohif", "code": code, "redirect_uri": callback,
        "code_verifier": verifier})
    assert answer.status_code == 200, answer.text
    return answer.json()


def sr_for(study: pydicom.Dataset) -> pydicom.Dataset:
    """A measurement report (SR) in the study, in a new series, as OHIF's "Create Report" makes it."""
    report = samples.renewed(pydicom.dcmread(get_testdata_file("test-SR.dcm")), study=str(study.StudyInstanceUID))
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                    "AccessionNumber", "StudyID", "ReferringPhysicianName"):
        setattr(report, keyword, study.get(keyword, ""))
    return report


def stow(stack, token: str, dataset: pydicom.Dataset, **params) -> requests.Response:
    boundary = "ohifreport"
    body = (f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + samples.part10(dataset)
            + f"\r\n--{boundary}--\r\n".encode())
    return requests.post(f"{stack.api_url}/studies", data=body, params=params, timeout=60, headers={
        **bearer(token), "Accept": "application/dicom+json",
        "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}'})


def series_of(stack, token: str, study_uid: str, **params) -> list[str]:
    found = requests.get(f"{stack.api_url}/studies/{study_uid}/series", params=params, headers=bearer(token),
                         timeout=30)
    return [s["0020000E"]["Value"][0] for s in found.json()] if found.status_code == 200 else []


@pytest.fixture(scope="module")
def album_study(stack, tokens):
    """A CT study in an album alice administers and bob reads without the right to add series."""
    alice = bearer(tokens("alice"))
    requests.get(f"{stack.api_url}/studies", headers=bearer(tokens("bob")), timeout=30)  # bob's first visit
    study = samples.renewed(pydicom.dcmread(get_testdata_file("CT_small.dcm")))
    assert stow(stack, tokens("alice"), study).status_code == 200
    album = requests.post(f"{stack.api_url}/albums", headers=alice, timeout=30,
                          data={"name": "reading", "addSeries": "false"}).json()["album_id"]
    assert requests.put(f"{stack.api_url}/albums/{album}/users/bob@example.org", headers=alice,
                        timeout=30).status_code == 201
    assert requests.put(f"{stack.api_url}/studies/{study.StudyInstanceUID}/albums/{album}", params={"inbox": "true"},
                        headers=alice, timeout=30).status_code == 201
    return {"album": album, "study": study}


def test_a_write_launch_saves_the_report_into_the_launched_study_and_album_only(stack, tokens, album_study):
    study, album = album_study["study"], album_study["album"]
    viewer = ohif_token(stack, tokens("alice"), str(study.StudyInstanceUID), album)
    assert set(viewer["scope"].split()) == {"read", "write"}
    report = sr_for(study)
    stored = stow(stack, viewer["access_token"], report)
    assert stored.status_code == 200, stored.text
    uid = str(report.SeriesInstanceUID)
    assert uid in series_of(stack, tokens("alice"), str(study.StudyInstanceUID), album=album)
    assert uid in series_of(stack, tokens("bob"), str(study.StudyInstanceUID), album=album)  # the album's members
    assert uid in series_of(stack, viewer["access_token"], str(study.StudyInstanceUID))  # reopened: shown again

    # and nothing outside its study or its album
    viewer = viewer["access_token"]
    elsewhere = samples.renewed(pydicom.dcmread(get_testdata_file("test-SR.dcm")))
    assert stow(stack, viewer, elsewhere).status_code in (403, 409)
    assert series_of(stack, tokens("alice"), str(elsewhere.StudyInstanceUID)) == []
    other_album = requests.post(f"{stack.api_url}/albums", headers=bearer(tokens("alice")), timeout=30,
                                data={"name": "another"}).json()["album_id"]  # alice may add series there
    report = sr_for(study)
    assert stow(stack, viewer, report, album=other_album).status_code == 404
    assert str(report.SeriesInstanceUID) not in series_of(stack, tokens("alice"), str(study.StudyInstanceUID))


def test_a_read_only_launch_cannot_save(stack, tokens, album_study):
    study, album = album_study["study"], album_study["album"]
    viewer = ohif_token(stack, tokens("bob"), str(study.StudyInstanceUID), album)
    assert viewer["scope"].split() == ["read"]
    report = sr_for(study)
    refused = stow(stack, viewer["access_token"], report)
    assert refused.status_code == 403 and refused.json()["message"]
    assert str(report.SeriesInstanceUID) not in series_of(stack, tokens("alice"), str(study.StudyInstanceUID))
