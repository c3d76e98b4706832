"""Each kind of principal against representative routes of every family, expected statuses
asserted (docs/kheops-compatibility.md §1-§3, §9)."""
from __future__ import annotations

import time

import pydicom
import pytest
import requests

from tests.integration.dicom_samples import load, part10, renewed

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"
PRINCIPALS = ["anonymous", "owner", "stranger", "user capability", "album read", "album write", "album send",
              "album download", "viewer of A", "viewer of B", "revoked", "forged"]


def bearer(token):
    return {"Authorization": f"Bearer {token}"} if token else {}


def fresh(name: str, study_uid: str | None = None) -> pydicom.Dataset:
    return renewed(load(name), study=study_uid)


@pytest.fixture(scope="module")
def world(stack, tokens):
    api, alice = stack.api_url, bearer(tokens("alice"))
    requests.get(f"{api}/inboxinfo", headers=bearer(tokens("bob")), timeout=10)
    a, b = fresh("CT_small.dcm"), fresh("MR_small.dcm")
    for dataset in (a, b):
        stored = requests.post(f"{api}/studies", data=part10(dataset), timeout=30,
                               headers={**alice, "Content-Type": "application/dicom"})
        assert stored.status_code == 200, stored.text
    album = requests.post(f"{api}/albums", headers=alice, data={"name": "matrix"}, timeout=10).json()["album_id"]
    assert requests.put(f"{api}/studies/{a.StudyInstanceUID}/albums/{album}", params={"inbox": "true"},
                        headers=alice, timeout=10).status_code == 201

    def capability(**fields):
        response = requests.post(f"{api}/capabilities", headers=alice, timeout=10, data={"title": "m", **fields})
        assert response.status_code == 201, response.text
        return response.json()

    def viewer(study):
        return requests.post(f"{api}/token", timeout=10, data={
            "grant_type": TOKEN_EXCHANGE, "subject_token": tokens("alice"), "subject_token_type": ACCESS_TOKEN,
            "scope": "viewer read", "studyUID": str(study.StudyInstanceUID)}).json()["access_token"]

    album_token = {"scope_type": "album", "album": album}
    revoked = capability(scope_type="user", read_permission="true")
    requests.post(f"{api}/capabilities/{revoked['id']}/revoke", headers=alice, timeout=10)
    tokens_by_kind = {
        "anonymous": None,
        "owner": tokens("alice"),
        "stranger": tokens("bob"),
        "user capability": capability(scope_type="user", read_permission="true", write_permission="true")["access_token"],
        "album read": capability(**album_token, read_permission="true")["access_token"],
        "album write": capability(**album_token, write_permission="true")["access_token"],
        "album send": capability(**album_token, read_permission="true", appropriate_permission="true")["access_token"],
        "album download": capability(**album_token, read_permission="true", download_permission="true")["access_token"],
        "viewer of A": viewer(a),
        "viewer of B": viewer(b),
        "revoked": revoked["access_token"],
        "forged": "eyJhbGciOiJFUzI1NiJ9.eyJleHAiOjF9.c2ln",  # expired ones: test_tokens.py
    }
    return {"a": a, "b": b, "album": album, "tokens": tokens_by_kind}


def _instance(world, key="a"):
    ds = world[key]
    return f"/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}"


def _stow_into_a(world):
    return fresh("CT_small.dcm", str(world["a"].StudyInstanceUID))


#            anon owner strgr ucap  a-rd a-wr a-snd a-dl vwrA vwrB revkd forged
EXPECTED = {
    "QIDO study A":          (401, 200, 204, 200, 200, 204, 200, 200, 200, 204, 401, 401),
    "QIDO series of A":      (401, 200, 404, 200, 200, 404, 200, 200, 200, 404, 401, 401),
    "WADO instance of A":    (401, 303, 404, 303, 303, 404, 303, 303, 303, 404, 401, 401),
    "WADO instance of B":    (401, 303, 404, 303, 404, 404, 404, 404, 404, 303, 401, 401),
    "metadata of A":         (401, 200, 404, 200, 200, 404, 200, 200, 200, 404, 401, 401),
    "STOW into study A":     (401, 200, 200, 200, 403, 200, 403, 403, 403, 403, 401, 401),
    "create album":          (401, 201, 201, 201, 403, 403, 403, 403, 403, 403, 401, 401),
    "list capabilities":     (401, 200, 200, 403, 403, 403, 403, 403, 403, 403, 401, 401),
    "album users":           (401, 200, 404, 200, 403, 403, 403, 403, 403, 403, 401, 401),
    "share A with bob":      (401, 201, 404, 201, 403, 403, 201, 403, 404, 404, 401, 401),
}


def _request(world, route, api):
    a, album = world["a"], world["album"]
    if route == "QIDO study A":
        return "GET", f"{api}/studies", {"params": {"StudyInstanceUID": str(a.StudyInstanceUID)}}
    if route == "QIDO series of A":
        return "GET", f"{api}/studies/{a.StudyInstanceUID}/series", {}
    if route == "WADO instance of A":
        return "GET", api + _instance(world), {}
    if route == "WADO instance of B":
        return "GET", api + _instance(world, "b"), {}
    if route == "metadata of A":
        return "GET", f"{api}/studies/{a.StudyInstanceUID}/series/{a.SeriesInstanceUID}/metadata", {}
    if route == "STOW into study A":
        return "POST", f"{api}/studies", {"data": part10(_stow_into_a(world)),
                                          "headers": {"Content-Type": "application/dicom"}}
    if route == "create album":
        return "POST", f"{api}/albums", {"data": {"name": "x"}}
    if route == "list capabilities":
        return "GET", f"{api}/capabilities", {}
    if route == "album users":
        return "GET", f"{api}/albums/{album}/users", {}
    if route == "share A with bob":
        return "PUT", f"{api}/studies/{a.StudyInstanceUID}/users/bob@example.org", {"params": {"album": album}}
    raise KeyError(route)


@pytest.mark.parametrize("route", sorted(EXPECTED))
def test_route_against_every_principal(stack, world, route):
    outcomes = {}
    for kind, expected in zip(PRINCIPALS, EXPECTED[route], strict=True):
        method, url, options = _request(world, route, stack.api_url)
        headers = {**options.pop("headers", {}), **bearer(world["tokens"][kind])}
        if kind.startswith("album") and route == "share A with bob":
            options["params"] = {}  # an album token shares from its own album
        response = requests.request(method, url, headers=headers, allow_redirects=False, timeout=30, **options)
        outcomes[kind] = (response.status_code, expected)
        if response.status_code == 401:
            assert response.content == b"", "a refused token learns nothing"
    wrong = {k: v for k, v in outcomes.items() if v[0] != v[1]}
    assert not wrong, f"{route}: (got, expected) {wrong}"


def test_album_token_stops_working_when_its_creator_is_demoted(stack, tokens):
    api = stack.api_url
    alice, bob = bearer(tokens("alice")), bearer(tokens("bob"))
    album = requests.post(f"{api}/albums", headers=alice, data={"name": "demotion"}, timeout=10).json()["album_id"]
    assert requests.put(f"{api}/albums/{album}/users/bob@example.org/admin", headers=alice, timeout=10).status_code == 204
    token = requests.post(f"{api}/capabilities", headers=bob, timeout=10, data={
        "title": "bob's", "scope_type": "album", "album": album, "read_permission": "true"}).json()["access_token"]
    assert requests.get(f"{api}/studies", headers=bearer(token), timeout=10).status_code in (200, 204)
    assert requests.delete(f"{api}/albums/{album}/users/bob@example.org/admin", headers=alice, timeout=10).status_code == 204
    time.sleep(0.1)
    refused = requests.get(f"{api}/studies", headers=bearer(token), timeout=10)
    assert refused.status_code == 401 and refused.content == b""


def test_album_token_cannot_be_created_by_a_non_admin(stack, tokens):
    api = stack.api_url
    alice = bearer(tokens("alice"))
    album = requests.post(f"{api}/albums", headers=alice, data={"name": "no tokens"}, timeout=10).json()["album_id"]
    requests.put(f"{api}/albums/{album}/users/bob@example.org", headers=alice, timeout=10)
    response = requests.post(f"{api}/capabilities", headers=bearer(tokens("bob")), timeout=10, data={
        "title": "x", "scope_type": "album", "album": album, "read_permission": "true"})
    assert response.status_code == 403
    carol = requests.post(f"{api}/capabilities", headers=bearer(tokens("carol")), timeout=10, data={
        "title": "x", "scope_type": "album", "album": album, "read_permission": "true"})
    assert carol.status_code == 404


def test_capability_tokens_manage_no_capabilities(stack, world, tokens):
    """Creating, listing and revoking capability tokens takes the user's own sign-in token: a
    capability token that verifies gets 403 `Authorization error` (as on other user-only routes),
    never an empty 401; reading one by id takes a user-level token (KHEOPS), so a user capability
    may and an album capability may not."""
    api = stack.api_url
    owned = requests.post(f"{api}/capabilities", headers=bearer(tokens("alice")), timeout=10,
                          data={"title": "target", "scope_type": "user", "read_permission": "true"}).json()["id"]
    calls = [("POST", "/capabilities", {"data": {"title": "x", "scope_type": "user", "read_permission": "true"}}),
             ("GET", "/capabilities", {}), ("POST", f"/capabilities/{owned}/revoke", {})]
    for kind in ("user capability", "album read", "album send"):
        for method, path, options in calls:
            response = requests.request(method, api + path, headers=bearer(world["tokens"][kind]), timeout=10,
                                        **options)
            assert response.status_code == 403, (kind, method, path, response.status_code)
            assert response.json()["message"] == "Authorization error"
    read = {kind: requests.get(f"{api}/capabilities/{owned}", headers=bearer(world["tokens"][kind]), timeout=10)
            for kind in ("user capability", "album read")}
    assert read["user capability"].status_code == 200 and read["user capability"].json()["revoked"] is False
    assert read["album read"].status_code == 403 and read["album read"].json()["message"] == "Authorization error"
