"""Generated from the route table: every route against the principals that must learn nothing.
Anonymous and forged or revoked tokens get 401 with an empty body (public routes aside); a
stranger, an album token of another album and a viewer token of another study never get a 2xx or a
3xx on routes naming alice's album, study, token, provider or webhook, and never see her data."""
from __future__ import annotations

import json
import os
import re

import pytest
import requests

from tests.integration.dicom_samples import load, part10
from tests.support.report_provider import ReportProviderApp

PUBLIC = {"liveness", "readiness", "openapi_document", "jwks", "openid_configuration", "report_provider_configuration",
          "register", "token", "introspect", "authorize", "launch_viewer", "launch_report_provider",
          "report_page"}  # the reporting page is gated by its one-time code (410 without one)
# The clinical launch reads a site admin's token from x-access-token, not Authorization; without one
# it answers 401 `Missing Auth` naming the header (docs/reporting.md), which reveals nothing.
X_ACCESS_TOKEN = {"launch_clinical_report"}
CAROLS_LAUNCH = json.dumps({"tags": {"SiteID": "demo", "Accession": "route-matrix", "PatientMRN": "matrix-mrn",
                                     "UserName": "testphysician", "UserEmail": "physician@example.org"}})
OWNED = ("{album}", "{study}", "{capability_id}", "{client_id}", "{webhook_id}", "{upload_id}", "{site_id}",
         "{report_id}")
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"


def routes():
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from app import app
    for path, methods in sorted(app.routes.items()):
        if path.startswith("/link/"):
            continue
        for method, entry in sorted(methods.items()):
            if method != "OPTIONS":
                yield method, path, entry.view_name, entry.content_types[0]


ROUTES = list(routes())


@pytest.fixture(scope="module")
def alices(stack, tokens):
    api, alice = stack.api_url, {"Authorization": f"Bearer {tokens('alice')}"}
    for user in ("bob", "carol"):
        requests.get(f"{api}/inboxinfo", headers={"Authorization": f"Bearer {tokens(user)}"}, timeout=10)
    dataset = load("CT_small.dcm")
    assert requests.post(f"{api}/studies", data=part10(dataset), timeout=30,
                         headers={**alice, "Content-Type": "application/dicom"}).status_code == 200
    album = requests.post(f"{api}/albums", headers=alice, data={"name": "secret"}, timeout=10).json()["album_id"]
    requests.put(f"{api}/studies/{dataset.StudyInstanceUID}/albums/{album}", params={"inbox": "true"},
                 headers=alice, timeout=10)
    capability = requests.post(f"{api}/capabilities", headers=alice, timeout=10, data={
        "title": "alice", "scope_type": "album", "album": album, "read_permission": "true"}).json()
    webhook = requests.post(f"{api}/albums/{album}/webhooks", headers=alice, timeout=10, data={
        "url": "http://127.0.0.1:9/hook", "name": "hook", "event": "new_series"}).json()
    provider = ReportProviderApp()
    client = requests.post(f"{api}/albums/{album}/reportproviders", headers=alice, timeout=10,
                           data={"name": "rp", "url": provider.url}).json()
    other_album = requests.post(f"{api}/albums", headers={"Authorization": f"Bearer {tokens('bob')}"},
                                data={"name": "bob's"}, timeout=10).json()["album_id"]
    bobs_album_token = requests.post(f"{api}/capabilities", headers={"Authorization": f"Bearer {tokens('bob')}"},
                                     timeout=10, data={"title": "b", "scope_type": "album", "album": other_album,
                                                       "read_permission": "true", "write_permission": "true",
                                                       "appropriate_permission": "true"}).json()["access_token"]
    other = load("MR_small.dcm")
    requests.post(f"{api}/studies", data=part10(other), timeout=30, headers={**alice, "Content-Type": "application/dicom"})
    viewer_of_other = requests.post(f"{api}/token", timeout=10, data={
        "grant_type": TOKEN_EXCHANGE, "subject_token": tokens("alice"),
        "subject_token_type": "urn:ietf:params:oauth:token-type:access_token", "scope": "viewer read write",
        "studyUID": str(other.StudyInstanceUID)}).json()["access_token"]
    carols_report = requests.post(f"{api}/report/launch/clinical", timeout=30, data=CAROLS_LAUNCH, headers={
        "x-access-token": tokens("carol"), "Content-Type": "application/json"}).json()["reportId"]
    revoked = requests.post(f"{api}/capabilities", headers=alice, timeout=10,
                            data={"title": "r", "scope_type": "user", "read_permission": "true"}).json()
    requests.post(f"{api}/capabilities/{revoked['id']}/revoke", headers=alice, timeout=10)
    values = {"album": album, "study": str(dataset.StudyInstanceUID), "series": str(dataset.SeriesInstanceUID),
              "instance": str(dataset.SOPInstanceUID), "frames": "1", "path": "7FE00010", "user": "alice@example.org",
              "capability_id": capability["id"], "client_id": client["client_id"], "webhook_id": webhook["id"],
              "upload_id": "doesnotexist0000", "site_id": "demo", "report_id": carols_report,
              "hold": "doesnotexist0000"}
    yield {"values": values, "secrets": [capability["access_token"], str(dataset.PatientID), album, "matrix-mrn"],
           "callers": {"stranger": tokens("bob"), "album token of another album": bobs_album_token,
                       "viewer of another study": viewer_of_other, "revoked": revoked["access_token"],
                       "forged": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9."}}
    provider.close()


def _url(stack, path, values):
    return stack.api_url + re.sub(r"{(\w+)}", lambda m: values[m.group(1)], path)


def _body(view: str, method: str) -> str | bytes | None:
    if view in X_ACCESS_TOKEN:
        return CAROLS_LAUNCH  # a valid launch: only the caller's token decides
    return b"" if method in ("POST", "PUT", "PATCH") else None


@pytest.mark.parametrize("method, path, view, content_type", ROUTES, ids=[f"{r[0]} {r[1]}" for r in ROUTES])
def test_no_leak(stack, alices, method, path, view, content_type):
    url = _url(stack, path, alices["values"])
    outcomes = []
    callers = {"anonymous": None, **alices["callers"]}
    for who, token in callers.items():
        header, scheme = ("x-access-token", "") if view in X_ACCESS_TOKEN else ("Authorization", "Bearer ")
        headers = {header: scheme + token} if token else {}
        if method in ("POST", "PUT", "PATCH"):
            headers["Content-Type"] = content_type
        response = requests.request(method, url, headers=headers, allow_redirects=False, timeout=30,
                                    data=_body(view, method))
        status = response.status_code
        outcomes.append((who, status))
        assert status < 500, f"{who}: {status} {response.text[:200]}"
        if view in PUBLIC:
            continue
        if view in X_ACCESS_TOKEN and who == "anonymous":
            assert status == 401 and response.json()["message"] == "Missing Auth", f"{who}: {status}"
        elif who in ("anonymous", "revoked", "forged"):
            assert status == 401 and response.content == b"", f"{who}: {status}"
        elif any(p in path for p in OWNED) or view in X_ACCESS_TOKEN:
            assert status >= 400, f"{who} got {status} on someone else's resource"
            assert not any(secret in response.text for secret in alices["secrets"]), f"{who} saw alice's data"
