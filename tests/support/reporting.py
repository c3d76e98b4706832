"""Reporting test helpers: configure a site as alice (the local Obelisk admin) with carol as its
admin, build the seed's launch body, launch, open a report session and sign through it."""
from __future__ import annotations

import requests

HOST_ORIGIN = "http://127.0.0.1:3002"
CAROL_EMAIL = "carol@example.org"


def configure_site(stack, tokens, site_id: str, endpoint: str = "", **extra) -> None:
    response = requests.put(f"{stack.api_url}/report/sites/{site_id}", timeout=30, headers={
        "Authorization": f"Bearer {tokens('alice')}"}, json={
        "admins": [CAROL_EMAIL], "origins": [HOST_ORIGIN], "returnFormat": "HL7",
        "returnEndpoint": endpoint, **extra})
    assert response.status_code == 200, response.text


def launch_tags(site: str, accession: str, study_uid: str = "", **override) -> dict:
    tags = {
        "SiteID": site, "PatientMRN": "test-mrn", "Accession": accession, "ReturnFormat": "HL7",
        "PatientName": "John Doe", "PatientBirthDate": "01021975", "PatientAge": "50", "PatientSex": "M",
        "Modality": "CT", "BodyPartExamined": "Abdomen", "StudyDescription": "CT abdomen w/wo contrast",
        "StudyDate": "05022024", "StudyTime": "122009", "StudyInstanceUID": study_uid,
        "ReasonForExam": "History of colon cancer and new onset abdominal pain.",
        "UserName": "testphysician", "UserEmail": "physician@example.org",
    }
    tags.update(override)
    return {"tags": {k: v for k, v in tags.items() if v is not None}, "result": "link"}


def launch(stack, token: str | None, body: dict) -> requests.Response:
    headers = {"x-access-token": token} if token else {}
    return requests.post(f"{stack.api_url}/report/launch/clinical", json=body, headers=headers, timeout=30)


def open_session(stack, tokens, site: str, accession: str, study_uid: str = "") -> tuple[str, dict[str, str]]:
    """(report id, the `x-report-session` header) of carol's launch, its link opened once."""
    launched = launch(stack, tokens("carol"), launch_tags(site, accession, study_uid))
    assert launched.status_code == 200, launched.text
    code = launched.json()["reportLink"].split("code=")[1]
    opened = requests.post(f"{stack.api_url}/report/session", json={"code": code}, timeout=30)
    assert opened.status_code == 200, opened.text
    return launched.json()["reportId"], {"x-report-session": opened.json()["session"]}


def sign(stack, session: dict[str, str], findings: str, impression: str) -> dict:
    answer = requests.post(f"{stack.api_url}/report/current/sign", headers=session, timeout=60,
                           json={"findings": findings, "impression": impression})
    assert answer.status_code == 200, answer.text
    return answer.json()
