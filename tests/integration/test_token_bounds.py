"""What each kind of token may do, found by an outside attack on the running stack (Obelisk issue
18): viewer tokens only read their study, die with their source, and read no album and no comment;
a capability's flags bound everything it does; report-provider tokens read no comments; ID tokens
are not access tokens; the provider-configuration test is for album admins and says one thing for
every outbound failure; secrets are never cached; malformed forms are a 400 in the route's shape."""
from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from pydicom.uid import generate_uid

from devstack import bootstrap
from tests.integration.dicom_samples import load, part10, renewed
from tests.support.report_provider import ReportProviderApp

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def world(stack, tokens):
    """alice's CT study, in her inbox and in her album (bob is a member there); a private comment
    of alice's to bob and a public one on it."""
    api, alice = stack.api_url, bearer(tokens("alice"))
    for user in ("bob", "carol"):
        requests.get(f"{api}/inboxinfo", headers=bearer(tokens(user)), timeout=10)
    ct = renewed(load("CT_small.dcm"))
    stored = requests.post(f"{api}/studies", data=part10(ct), timeout=30,
                           headers={**alice, "Content-Type": "application/dicom"})
    assert stored.status_code == 200, stored.text
    study, series = str(ct.StudyInstanceUID), str(ct.SeriesInstanceUID)
    album = requests.post(f"{api}/albums", headers=alice, data={"name": "bounds"}, timeout=10).json()["album_id"]
    assert requests.put(f"{api}/studies/{study}/albums/{album}", params={"inbox": "true"}, headers=alice,
                        timeout=10).status_code == 201
    assert requests.put(f"{api}/albums/{album}/users/bob@example.org", headers=alice, timeout=10).status_code == 201
    assert requests.post(f"{api}/studies/{study}/comments", headers=alice, timeout=10,
                         data={"comment": "alice to bob only", "to_user": "bob@example.org"}).status_code == 204
    assert requests.post(f"{api}/studies/{study}/comments", headers=alice, timeout=10,
                         data={"comment": "for everyone"}).status_code == 204
    return {"study": study, "series": series, "album": album}


def capability(stack, token: str, **fields) -> dict:
    response = requests.post(f"{stack.api_url}/capabilities", headers=bearer(token), timeout=10,
                             data={"title": "bounds", **fields})
    assert response.status_code == 201, response.text
    return response.json()


def exchange(stack, subject: str, study: str, scope: str = "viewer read", **source) -> requests.Response:
    return requests.post(f"{stack.api_url}/token", timeout=10, data={
        "grant_type": TOKEN_EXCHANGE, "subject_token": subject, "subject_token_type": ACCESS_TOKEN,
        "scope": scope, "studyUID": study, **source})


def viewer(stack, subject: str, study: str, **source) -> str:
    response = exchange(stack, subject, study, **source)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def metadata(stack, world, token: str) -> requests.Response:
    return requests.get(f"{stack.api_url}/studies/{world['study']}/series/{world['series']}/metadata",
                        headers=bearer(token), timeout=30)


# 1 ---------------------------------------------------------------------------------------------

def test_viewer_token_cannot_share_its_study(stack, tokens, world):
    token = viewer(stack, tokens("alice"), world["study"], source_type="inbox")
    shared = requests.put(f"{stack.api_url}/studies/{world['study']}/users/carol@example.org",
                          params={"inbox": "true"}, headers=bearer(token), timeout=10)
    assert shared.status_code == 403
    carol = requests.get(f"{stack.api_url}/studies", params={"StudyInstanceUID": world["study"]},
                         headers=bearer(tokens("carol")), timeout=10)
    assert carol.status_code == 204


def test_viewer_token_cannot_comment_favorite_or_create_albums(stack, tokens, world):
    token = bearer(viewer(stack, tokens("alice"), world["study"], source_type="inbox"))
    api, study = stack.api_url, world["study"]
    assert requests.post(f"{api}/studies/{study}/comments", headers=token, data={"comment": "x"},
                         timeout=10).status_code == 403
    assert requests.put(f"{api}/studies/{study}/favorites", params={"inbox": "true"}, headers=token,
                        timeout=10).status_code == 403
    assert requests.post(f"{api}/albums", headers=token, data={"name": "x"}, timeout=10).status_code == 403


# 2 ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("scope_type", ["user", "album"])
def test_write_only_capability_cannot_mint_a_reading_viewer_token(stack, tokens, world, scope_type):
    fields = {"album": world["album"]} if scope_type == "album" else {}
    secret = capability(stack, tokens("alice"), scope_type=scope_type, write_permission="true", **fields)["access_token"]
    refused = exchange(stack, secret, world["study"], scope="viewer read")
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_scope"
    assert refused.headers["Cache-Control"] == "no-store"


def test_viewer_scope_is_only_what_the_subject_holds(stack, tokens, world):
    secret = capability(stack, tokens("alice"), scope_type="user", read_permission="true")["access_token"]
    granted = exchange(stack, secret, world["study"], scope="viewer read write")
    assert granted.status_code == 200 and granted.json()["scope"] == "read"


def test_exchange_refuses_a_source_or_study_the_subject_cannot_read(stack, tokens, world):
    """A viewer token is for a study the subject reads in the source it names: an album it is not
    in, one that does not exist, and an inbox without the study are refused alike (invalid_scope),
    so the answer does not tell a missing album from someone else's."""
    api, alice, carol = stack.api_url, bearer(tokens("alice")), tokens("carol")
    left = requests.post(f"{api}/albums", headers=alice, data={"name": "left"}, timeout=10).json()["album_id"]
    assert requests.put(f"{api}/studies/{world['study']}/albums/{left}", params={"inbox": "true"}, headers=alice,
                        timeout=10).status_code == 201
    assert requests.put(f"{api}/albums/{left}/users/carol@example.org", headers=alice, timeout=10).status_code == 201
    assert requests.delete(f"{api}/albums/{left}/users/carol@example.org", headers=bearer(carol),
                           timeout=10).status_code == 204
    refusals = {
        "not a member": exchange(stack, carol, world["study"], source_type="album", source_id=world["album"]),
        "left": exchange(stack, carol, world["study"], source_type="album", source_id=left),
        "no such album": exchange(stack, carol, world["study"], source_type="album", source_id="nosuchalbm"),
        "not in the inbox": exchange(stack, carol, world["study"], source_type="inbox"),
        "unknown study": exchange(stack, tokens("bob"), generate_uid(), source_type="inbox"),
    }
    answers = {case: (r.status_code, r.json()) for case, r in refusals.items()}
    assert all(answer == (400, answers["no such album"][1]) for answer in answers.values()), answers
    assert answers["no such album"][1]["error"] == "invalid_scope"
    granted = exchange(stack, tokens("bob"), world["study"], source_type="album", source_id=world["album"])
    assert granted.status_code == 200 and granted.json()["scope"] == "read"


# 3 ---------------------------------------------------------------------------------------------

def test_viewer_token_dies_when_its_album_capability_is_revoked(stack, tokens, world):
    created = capability(stack, tokens("alice"), scope_type="album", album=world["album"], read_permission="true")
    token = viewer(stack, created["access_token"], world["study"])
    assert metadata(stack, world, token).status_code == 200
    revoked = requests.post(f"{stack.api_url}/capabilities/{created['id']}/revoke", headers=bearer(tokens("alice")),
                            timeout=10)
    assert revoked.status_code == 200
    refused = metadata(stack, world, token)
    assert refused.status_code == 401 and refused.content == b""


def test_viewer_token_dies_when_its_user_capability_is_revoked(stack, tokens, world):
    created = capability(stack, tokens("alice"), scope_type="user", read_permission="true")
    token = viewer(stack, created["access_token"], world["study"])
    assert metadata(stack, world, token).status_code == 200
    requests.post(f"{stack.api_url}/capabilities/{created['id']}/revoke", headers=bearer(tokens("alice")), timeout=10)
    assert metadata(stack, world, token).status_code == 401


def test_viewer_token_dies_when_its_capability_expires(stack, tokens, world):
    expires = datetime.now(UTC) + timedelta(seconds=2)
    created = capability(stack, tokens("alice"), scope_type="album", album=world["album"], read_permission="true",
                         expiration_time=expires.strftime("%Y-%m-%dT%H:%M:%SZ"))
    token = viewer(stack, created["access_token"], world["study"])
    assert metadata(stack, world, token).status_code == 200
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 6)  # past expiry and its 5 s leeway
    assert metadata(stack, world, token).status_code == 401


def test_viewer_token_dies_when_its_capabilitys_creator_is_demoted(stack, tokens, world):
    api, alice, bob = stack.api_url, bearer(tokens("alice")), bearer(tokens("bob"))
    album = requests.post(f"{api}/albums", headers=alice, data={"name": "demote"}, timeout=10).json()["album_id"]
    assert requests.put(f"{api}/studies/{world['study']}/albums/{album}", params={"inbox": "true"}, headers=alice,
                        timeout=10).status_code == 201
    assert requests.put(f"{api}/albums/{album}/users/bob@example.org/admin", headers=alice, timeout=10).status_code == 204
    created = capability(stack, tokens("bob"), scope_type="album", album=album, read_permission="true")
    token = viewer(stack, created["access_token"], world["study"])
    assert metadata(stack, world, token).status_code == 200
    assert requests.delete(f"{api}/albums/{album}/users/bob@example.org/admin", headers=alice,
                           timeout=10).status_code == 204
    assert metadata(stack, world, token).status_code == 401
    assert requests.get(f"{api}/albums/{album}", headers=bob, timeout=10).status_code == 200  # bob is still a member


# 4 ---------------------------------------------------------------------------------------------

def test_read_only_user_capability_changes_nothing(stack, tokens, world):
    api, album, study = stack.api_url, world["album"], world["study"]
    token = bearer(capability(stack, tokens("alice"), scope_type="user", read_permission="true")["access_token"])
    assert metadata(stack, world, token["Authorization"].split()[1]).status_code == 200  # it still reads
    attempts = {
        "create album": requests.post(f"{api}/albums", headers=token, data={"name": "x"}, timeout=10),
        "edit album": requests.patch(f"{api}/albums/{album}", headers=token, data={"name": "y"}, timeout=10),
        "add admin": requests.put(f"{api}/albums/{album}/users/carol@example.org/admin", headers=token, timeout=10),
        "add user": requests.put(f"{api}/albums/{album}/users/carol@example.org", headers=token, timeout=10),
        "share with carol": requests.put(f"{api}/studies/{study}/users/carol@example.org", params={"inbox": "true"},
                                         headers=token, timeout=10),
        "webhook": requests.post(f"{api}/albums/{album}/webhooks", headers=token, timeout=10,
                                 data={"url": "https://example.org/hook", "name": "h", "event": "new_series"}),
        "comment": requests.post(f"{api}/studies/{study}/comments", headers=token, data={"comment": "x"}, timeout=10),
        "favorite": requests.put(f"{api}/studies/{study}/favorites", params={"inbox": "true"}, headers=token,
                                 timeout=10),
        "album favorite": requests.put(f"{api}/albums/{album}/favorites", headers=token, timeout=10),
        "delete album": requests.delete(f"{api}/albums/{album}", headers=token, timeout=10),
    }
    assert {k: r.status_code for k, r in attempts.items()} == {k: 403 for k in attempts}
    users = requests.get(f"{api}/albums/{album}/users", headers=bearer(tokens("alice")), timeout=10).json()
    assert "carol@example.org" not in [u["email"] for u in users]
    assert requests.get(f"{api}/albums/{album}", headers=bearer(tokens("alice")), timeout=10).status_code == 200


def test_read_only_user_capability_cannot_launch_a_report_provider(stack, tokens, world):
    app = ReportProviderApp(response_type="token")
    try:
        created = requests.post(f"{stack.api_url}/albums/{world['album']}/reportproviders", timeout=10,
                                headers=bearer(tokens("alice")), data={"name": "RP", "url": app.url})
        assert created.status_code == 201, created.text
        secret = capability(stack, tokens("alice"), scope_type="user", read_permission="true")["access_token"]
        launched = requests.post(f"{stack.api_url}/report", timeout=10, data={
            "access_token": secret, "client_id": created.json()["client_id"], "studyUID": world["study"]})
        assert launched.status_code == 403
        assert "access_token=" not in launched.text
    finally:
        app.close()


# 5 ---------------------------------------------------------------------------------------------

def test_viewer_token_reads_no_album(stack, tokens, world):
    token = viewer(stack, tokens("alice"), world["study"], source_type="album", source_id=world["album"])
    assert metadata(stack, world, token).status_code == 200
    for path in ("", "/users", "/events"):
        answer = requests.get(f"{stack.api_url}/albums/{world['album']}{path}", headers=bearer(token), timeout=10)
        assert answer.status_code in (403, 404), (path, answer.status_code)
        assert "bounds" not in answer.text


# 6 ---------------------------------------------------------------------------------------------

def _provider_token(stack, tokens, world, launcher: str | None = None,
                    flow: str = "token", album: str | None = None) -> tuple[ReportProviderApp, str]:
    """A report-provider token launched on the study with `launcher` (alice's token by default),
    from the implicit flow or the authorization-code flow, by a provider of `album` (the world's)."""
    app = ReportProviderApp(response_type=flow)
    created = requests.post(f"{stack.api_url}/albums/{album or world['album']}/reportproviders", timeout=10,
                            headers=bearer(tokens("alice")), data={"name": "RP", "url": app.url})
    assert created.status_code == 201, created.text
    client_id = created.json()["client_id"]
    page = requests.post(f"{stack.api_url}/report", timeout=10, data={
        "access_token": launcher or tokens("alice"), "client_id": client_id, "studyUID": world["study"]})
    assert page.status_code == 200, page.text
    target = urlsplit(re.search(r"URL='([^']+)'", page.text).group(1).replace("&amp;", "&"))
    if flow == "token":
        return app, parse_qs(target.fragment)["access_token"][0]
    exchanged = app.exchange(f"{stack.api_url}/token", parse_qs(target.query)["code"][0], client_id)
    assert exchanged.status_code == 200, exchanged.text
    return app, exchanged.json()["access_token"]


def _introspected(stack, token: str) -> bool:
    return requests.post(f"{stack.api_url}/token/introspect", data={"token": token}, timeout=10).json()["active"]


@pytest.mark.parametrize("flow", ["token", "code"])
def test_report_provider_token_dies_when_its_user_capability_is_revoked(stack, tokens, world, flow):
    """Launched with a user capability, a provider token stops working once the capability is
    revoked (docs/report-providers.md), in both launch flows, and introspects as inactive."""
    created = capability(stack, tokens("alice"), scope_type="user", read_permission="true", write_permission="true")
    app, token = _provider_token(stack, tokens, world, launcher=created["access_token"], flow=flow)
    try:
        assert metadata(stack, world, token).status_code == 200
        assert _introspected(stack, token)
        assert requests.post(f"{stack.api_url}/capabilities/{created['id']}/revoke", headers=bearer(tokens("alice")),
                             timeout=10).status_code == 200
        refused = metadata(stack, world, token)
        assert refused.status_code == 401 and refused.content == b""
        assert requests.get(f"{stack.api_url}/userinfo", headers=bearer(token), timeout=10).status_code == 401
        assert not _introspected(stack, token)
    finally:
        app.close()


def test_report_provider_token_launched_with_a_user_capability_dies_when_its_user_leaves_the_album(
        stack, tokens, world):
    api, alice = stack.api_url, bearer(tokens("alice"))
    album = requests.post(f"{api}/albums", headers=alice, data={"name": "leave"}, timeout=10).json()["album_id"]
    assert requests.put(f"{api}/studies/{world['study']}/albums/{album}", params={"inbox": "true"}, headers=alice,
                        timeout=10).status_code == 201
    assert requests.put(f"{api}/albums/{album}/users/bob@example.org", headers=alice, timeout=10).status_code == 201
    created = capability(stack, tokens("bob"), scope_type="user", read_permission="true", write_permission="true")
    app, token = _provider_token(stack, tokens, world, launcher=created["access_token"], album=album)
    try:
        assert metadata(stack, world, token).status_code == 200
        assert requests.delete(f"{api}/albums/{album}/users/bob@example.org", headers=alice,
                               timeout=10).status_code == 204
        assert metadata(stack, world, token).status_code in (401, 404)
    finally:
        app.close()


def test_report_provider_token_dies_when_its_user_capability_expires(stack, tokens, world):
    expires = datetime.now(UTC) + timedelta(seconds=2)
    created = capability(stack, tokens("alice"), scope_type="user", read_permission="true", write_permission="true",
                         expiration_time=expires.strftime("%Y-%m-%dT%H:%M:%SZ"))
    app, token = _provider_token(stack, tokens, world, launcher=created["access_token"])
    try:
        assert metadata(stack, world, token).status_code == 200
        time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 6)  # past expiry and its 5 s leeway
        assert metadata(stack, world, token).status_code == 401
    finally:
        app.close()


def test_report_provider_token_reads_no_comments(stack, tokens, world):
    app, token = _provider_token(stack, tokens, world)
    try:
        assert metadata(stack, world, token).status_code == 200  # it reads the launched study
        comments = requests.get(f"{stack.api_url}/studies/{world['study']}/comments", headers=bearer(token), timeout=10)
        assert comments.status_code == 403
        assert "alice to bob only" not in comments.text and "for everyone" not in comments.text
    finally:
        app.close()


def test_viewer_and_album_tokens_read_no_comments(stack, tokens, world):
    bobs_viewer = viewer(stack, tokens("bob"), world["study"], source_type="album", source_id=world["album"])
    album_token = capability(stack, tokens("alice"), scope_type="album", album=world["album"],
                             read_permission="true")["access_token"]
    for token in (bobs_viewer, album_token):
        comments = requests.get(f"{stack.api_url}/studies/{world['study']}/comments", headers=bearer(token), timeout=10)
        assert comments.status_code == 403
        assert "alice to bob only" not in comments.text
    mine = requests.get(f"{stack.api_url}/studies/{world['study']}/comments", headers=bearer(tokens("bob")), timeout=10)
    assert "alice to bob only" in [c["comment"] for c in mine.json()]  # the addressee's own token reads it


def test_viewer_token_counts_no_comments(stack, tokens, world):
    query = {"StudyInstanceUID": world["study"], "includefield": "comments", "album": world["album"]}
    counted = {}
    for who, token in (("bob", tokens("bob")), ("bob's viewer", viewer(stack, tokens("bob"), world["study"],
                                                                      source_type="album", source_id=world["album"]))):
        found = requests.get(f"{stack.api_url}/studies", params=query, headers=bearer(token), timeout=10).json()
        counted[who] = found[0].get("00012346", {}).get("Value", [0])[0]
    assert counted == {"bob": 2, "bob's viewer": 0}


# 7 ---------------------------------------------------------------------------------------------

def _cognito(stack):
    return bootstrap.aws_client("cognito-idp", stack.emulator_url)


def test_cognito_id_token_is_not_an_access_token(stack, tokens, world):
    signed_in = _cognito(stack).initiate_auth(
        ClientId=stack.identity["client_id"], AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "alice", "PASSWORD": bootstrap.demo_password("alice")})["AuthenticationResult"]
    assert requests.get(f"{stack.api_url}/studies", headers=bearer(signed_in["AccessToken"]),
                        timeout=10).status_code == 200
    refused = requests.get(f"{stack.api_url}/studies", headers=bearer(signed_in["IdToken"]), timeout=10)
    assert refused.status_code == 401 and refused.content == b""


def test_access_token_of_another_app_client_is_refused(stack, tokens, world):
    idp = _cognito(stack)
    other = idp.create_user_pool_client(UserPoolId=stack.identity["user_pool_id"], ClientName=f"other-{generate_uid()}",
                                        GenerateSecret=False, ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])
    signed_in = idp.initiate_auth(
        ClientId=other["UserPoolClient"]["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "alice", "PASSWORD": bootstrap.demo_password("alice")})["AuthenticationResult"]
    refused = requests.get(f"{stack.api_url}/studies", headers=bearer(signed_in["AccessToken"]), timeout=10)
    assert refused.status_code == 401


# 9 ---------------------------------------------------------------------------------------------

def test_provider_metadata_test_is_for_album_admins_only(stack, tokens, world):
    viewer_token = viewer(stack, tokens("alice"), world["study"], source_type="inbox")
    album_token = capability(stack, tokens("alice"), scope_type="album", album=world["album"],
                             read_permission="true", write_permission="true")["access_token"]
    read_only = capability(stack, tokens("alice"), scope_type="user", read_permission="true")["access_token"]
    for token in (viewer_token, album_token, read_only):
        answer = requests.post(f"{stack.api_url}/reportproviders/metadata", headers=bearer(token), timeout=10,
                               data={"url": "http://127.0.0.1:9/"})
        assert answer.status_code == 403, answer.text


def test_provider_metadata_test_says_one_thing_for_every_outbound_failure(stack, tokens, world):
    app = ReportProviderApp()
    try:
        urls = [
            "http://127.0.0.1:9/conf",  # allowed address, closed port
            app.base + "/nothing-here",  # open port, 404
            app.base + "/report.html",  # open port, not JSON
            "http://10.0.0.1/conf",  # an address Obelisk may not call
            "http://no-such-host.invalid/conf",  # does not resolve
        ]
        answers = [requests.post(f"{stack.api_url}/reportproviders/metadata", headers=bearer(tokens("alice")),
                                 timeout=30, data={"url": url}).json() for url in urls]
    finally:
        app.close()
    assert all(a["valid"] is False for a in answers), answers
    assert len({a["error_description"] for a in answers}) == 1, answers


# 11 --------------------------------------------------------------------------------------------

def test_answers_carrying_secrets_are_not_stored_and_nothing_is_sniffed(stack, tokens, world):
    alice = bearer(tokens("alice"))
    created = requests.post(f"{stack.api_url}/capabilities", headers=alice, timeout=10,
                            data={"title": "cache", "scope_type": "user", "read_permission": "true"})
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    exchanged = exchange(stack, tokens("alice"), world["study"])
    assert exchanged.headers["Cache-Control"] == "no-store"
    answers = [
        created, exchanged,
        requests.get(f"{stack.api_url}/capabilities/{created.json()['id']}", headers=alice, timeout=10),
        requests.get(f"{stack.api_url}/studies", headers=alice, timeout=10),
        requests.get(f"{stack.api_url}/albums/nope", headers=alice, timeout=10),
        requests.get(f"{stack.api_url}/studies", timeout=10),
        metadata(stack, world, tokens("alice")),
    ]
    assert [a.headers.get("X-Content-Type-Options") for a in answers] == ["nosniff"] * len(answers)


# 12 --------------------------------------------------------------------------------------------

def test_non_utf8_form_bodies_answer_400(stack, tokens, world):
    alice = {**bearer(tokens("alice")), **FORM}
    for body in (b"grant_type=\xff\xfe", b"grant_type=%FF%FE"):
        token = requests.post(f"{stack.api_url}/token", data=body, headers=FORM, timeout=10)
        assert token.status_code == 400 and token.json()["error"] == "invalid_request", token.text
    for path in ("/capabilities", "/albums"):
        answer = requests.post(f"{stack.api_url}{path}", data=b"title=\xff&scope_type=user", headers=alice, timeout=10)
        assert answer.status_code == 400, (path, answer.text)
        assert set(answer.json()) == {"message", "detail"}
