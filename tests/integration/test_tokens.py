"""Every kind of caller through the one policy; the token endpoint; attacks refused."""
from __future__ import annotations

import base64
import hmac
import json
import time

import jwt
import pydicom
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydicom.data import get_testdata_file

from devstack.in_process import service_layer
from tests.dicomweb_session import DICOMwebClient

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def study(stack, tokens):
    ct, mr = (pydicom.dcmread(get_testdata_file(n)) for n in ("CT_small.dcm", "MR_small.dcm"))
    client = DICOMwebClient(stack.api_url, headers=bearer(tokens("alice")))
    client.store_instances([ct, mr])
    return {"A": ct, "B": mr}


def capability(stack, token: str, **fields) -> dict:
    response = requests.post(f"{stack.api_url}/capabilities", headers=bearer(token), timeout=10,
                             data={"title": "t", "scope_type": "user", **fields})
    assert response.status_code == 201, response.text
    return response.json()


def viewer_token(stack, subject: str, study_uid: str, scope: str = "viewer read") -> str:
    response = requests.post(f"{stack.api_url}/token", timeout=10, data={
        "grant_type": TOKEN_EXCHANGE, "subject_token": subject, "subject_token_type": ACCESS_TOKEN,
        "scope": scope, "studyUID": study_uid})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def instance_url(stack, ds) -> str:
    return (f"{stack.api_url}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
            f"/instances/{ds.SOPInstanceUID}")


def test_capability_secret_is_shown_once_and_scope_reflects_flags(stack, tokens, study):
    created = capability(stack, tokens("alice"), read_permission="true")
    assert len(created["access_token"]) == 22 and created["secret"] == created["access_token"]
    shown = requests.get(f"{stack.api_url}/capabilities/{created['id']}", headers=bearer(tokens("alice")),
                         timeout=10).json()
    assert "access_token" not in shown and "secret" not in shown
    introspected = requests.post(f"{stack.api_url}/token/introspect", data={"token": created["access_token"]},
                                 timeout=10).json()
    assert introspected["active"] is True and introspected["scope"] == "read"
    listed = requests.get(f"{stack.api_url}/capabilities", headers=bearer(tokens("alice")), timeout=10)
    assert created["id"] in [c["id"] for c in listed.json()]
    assert int(listed.headers["X-Total-Count"]) >= 1


def test_capabilities_are_managed_only_with_the_users_own_token(stack, tokens, study):
    secret = capability(stack, tokens("alice"), read_permission="true", write_permission="true")["access_token"]
    assert requests.get(f"{stack.api_url}/capabilities", headers=bearer(secret), timeout=10).status_code == 403
    assert requests.post(f"{stack.api_url}/capabilities", headers=bearer(secret), timeout=10,
                         data={"title": "x", "scope_type": "user"}).status_code == 403


def test_bob_cannot_see_or_revoke_alices_capability(stack, tokens, study):
    created = capability(stack, tokens("alice"), read_permission="true")
    for method, path in (("GET", ""), ("POST", "/revoke")):
        response = requests.request(method, f"{stack.api_url}/capabilities/{created['id']}{path}",
                                    headers=bearer(tokens("bob")), timeout=10)
        assert response.status_code == 404


def test_revoked_capability_is_refused_with_401_and_no_body(stack, tokens, study):
    created = capability(stack, tokens("alice"), read_permission="true")
    assert requests.get(f"{stack.api_url}/studies", headers=bearer(created["access_token"]), timeout=10).status_code == 200
    revoked = requests.post(f"{stack.api_url}/capabilities/{created['id']}/revoke", headers=bearer(tokens("alice")),
                            timeout=10).json()
    assert revoked["revoked"] is True and revoked["revoked_by"]["email"] == "alice@example.org"
    response = requests.get(f"{stack.api_url}/studies", headers=bearer(created["access_token"]), timeout=10)
    assert response.status_code == 401 and response.content == b""


def test_same_qido_through_bearer_basic_and_link(stack, tokens, study):
    secret = capability(stack, tokens("alice"), read_permission="true")["access_token"]
    basic = base64.b64encode(f"anyone:{secret}".encode()).decode()
    by_bearer = requests.get(f"{stack.api_url}/studies", headers=bearer(secret), timeout=10)
    by_basic = requests.get(f"{stack.api_url}/studies", headers={"Authorization": f"Basic {basic}"}, timeout=10)
    by_link = requests.get(f"{stack.api_url}/link/{secret}/studies", timeout=10)
    assert by_bearer.status_code == by_basic.status_code == by_link.status_code == 200
    assert by_bearer.json() == by_basic.json()
    plain = json.dumps(by_bearer.json())
    assert json.dumps(by_link.json()) == plain.replace(f"{stack.api_url}/studies", f"{stack.api_url}/link/{secret}/studies")
    assert f"/link/{secret}/studies/" in json.dumps(by_link.json())


def test_verifying_a_capability_costs_one_dynamodb_read(stack, tokens, study):
    secret = capability(stack, tokens("alice"), read_permission="true")["access_token"]
    requests.get(f"{stack.api_url}/studies", headers=bearer(secret), timeout=10)  # last_used written now
    calls = f"{stack.emulator_url}/_emulator/calls"
    requests.delete(calls, timeout=5)
    requests.post(f"{stack.api_url}/token/introspect", data={"token": secret}, timeout=10)
    counted = requests.get(calls, timeout=5).json()
    dynamodb = {op: n for op, n in counted.items() if op.startswith("dynamodb:")}
    assert dynamodb == {"dynamodb:GetItem": 1}


def test_viewer_token_reads_only_its_study(stack, tokens, study):
    token = viewer_token(stack, tokens("alice"), str(study["A"].StudyInstanceUID))
    allowed = requests.get(instance_url(stack, study["A"]), headers=bearer(token), allow_redirects=False, timeout=10)
    other = requests.get(instance_url(stack, study["B"]), headers=bearer(token), allow_redirects=False, timeout=10)
    assert allowed.status_code == 303
    assert other.status_code == 404
    listed = requests.get(f"{stack.api_url}/studies", headers=bearer(token), timeout=10).json()
    assert [s["0020000D"]["Value"][0] for s in listed] == [str(study["A"].StudyInstanceUID)]


def test_viewer_token_cannot_store_or_be_exchanged_again(stack, tokens, study):
    token = viewer_token(stack, tokens("alice"), str(study["A"].StudyInstanceUID))
    data = open(get_testdata_file("CT_small.dcm"), "rb").read()
    stored = requests.post(f"{stack.api_url}/studies", data=data, timeout=10,
                           headers={**bearer(token), "Content-Type": "application/dicom"})
    assert stored.status_code == 403
    again = requests.post(f"{stack.api_url}/token", timeout=10, data={
        "grant_type": TOKEN_EXCHANGE, "subject_token": token, "subject_token_type": ACCESS_TOKEN,
        "scope": "viewer read", "studyUID": str(study["A"].StudyInstanceUID)})
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("grant_type", ["password", "client_credentials", "refresh_token", "made-up",
                                        "urn:ietf:params:oauth:grant-type:jwt-bearer"])
def test_other_grants_are_unsupported(stack, grant_type):
    response = requests.post(f"{stack.api_url}/token", data={"grant_type": grant_type}, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def _issued_claims(stack, tokens, study) -> dict:
    token = viewer_token(stack, tokens("alice"), str(study["A"].StudyInstanceUID))
    return jwt.decode(token, options={"verify_signature": False})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256_with_public_key(claims: dict, kid: str, public_pem: bytes) -> str:
    """The classic confusion attack: HMAC keyed with the verifier's public key."""
    signing_input = f"{_b64(json.dumps({'alg': 'HS256', 'kid': kid}).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{_b64(hmac.new(public_pem, signing_input.encode(), 'sha256').digest())}"


def _forgeries(stack, tokens, study) -> dict[str, str]:
    claims = _issued_claims(stack, tokens, study)
    genuine = viewer_token(stack, tokens("alice"), str(study["A"].StudyInstanceUID))
    kid = jwt.get_unverified_header(genuine)["kid"]
    jwks = requests.get(f"{stack.api_url}/.well-known/jwks.json", timeout=10).json()
    public_pem = jwt.algorithms.ECAlgorithm.from_jwk(jwks["keys"][0]).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    other_key = ec.generate_private_key(ec.SECP256R1())
    head, _, signature = genuine.split(".")
    tampered = _b64(json.dumps({**claims, "studyUID": str(study["B"].StudyInstanceUID)}).encode())
    now = int(time.time())

    def by_other_key(changes: dict, key_id: str = kid) -> str:
        return jwt.encode({**claims, **changes}, other_key, algorithm="ES256", headers={"kid": key_id})

    return {
        "alg none": jwt.encode(claims, None, algorithm="none"),
        "HS256 keyed with our public key": _hs256_with_public_key(claims, kid, public_pem),
        "tampered payload": f"{head}.{tampered}.{signature}",
        "expired": by_other_key({"exp": now - 120, "iat": now - 200}),
        "signed by another key": by_other_key({}),
        "unknown kid": by_other_key({}, "nope"),
        "wrong iss": by_other_key({"iss": "https://evil.example/api"}),
    }


ATTACKS = ["alg none", "HS256 keyed with our public key", "tampered payload", "expired", "signed by another key",
           "unknown kid", "wrong iss"]


@pytest.mark.parametrize("attack", ATTACKS)
def test_forged_tokens_get_401_and_no_detail(stack, tokens, study, attack):
    forged = _forgeries(stack, tokens, study)[attack]
    response = requests.get(f"{stack.api_url}/studies", headers=bearer(forged), timeout=10)
    assert response.status_code == 401
    assert response.content == b""


def test_our_own_expired_and_future_tokens_are_refused(stack, tokens, study):
    """Tokens signed with Obelisk's real key but outside their validity window."""
    claims = _issued_claims(stack, tokens, study)
    now = int(time.time())
    with service_layer(stack):
        from chalicelib.auth import signing
        expired = signing.sign({**claims, "exp": now - 120, "iat": now - 300})
        future = signing.sign({**claims, "nbf": now + 600, "iat": now})
        foreign_issuer = signing.sign({**claims, "iss": "https://evil.example/api"})
    for token in (expired, future, foreign_issuer):
        response = requests.get(f"{stack.api_url}/studies", headers=bearer(token), timeout=10)
        assert response.status_code == 401 and response.content == b""


def test_malformed_basic_header_is_401(stack):
    response = requests.get(f"{stack.api_url}/studies", headers={"Authorization": "Basic bm9jb2xvbg=="}, timeout=10)
    assert response.status_code == 401


def test_discovery_documents_and_keys(stack):
    openid = requests.get(f"{stack.api_url}/.well-known/openid-configuration", timeout=10).json()
    assert openid["issuer"] == stack.api_url
    assert openid["token_endpoint"] == f"{stack.api_url}/token"
    assert openid["code_challenge_methods_supported"] == ["S256"]
    provider = requests.get(f"{stack.api_url}/.well-known/report-provider-configuration", timeout=10).json()
    assert provider["introspection_endpoint"] == f"{stack.api_url}/token/introspect"
    keys = requests.get(openid["jwks_uri"], timeout=10).json()["keys"]
    assert keys and all(k["kty"] == "EC" and k["kid"] for k in keys)


def test_introspecting_a_user_token_is_refused_to_public_callers(stack, tokens):
    response = requests.post(f"{stack.api_url}/token/introspect", data={"token": tokens("alice")}, timeout=10)
    assert response.status_code == 401
    inactive = requests.post(f"{stack.api_url}/token/introspect", data={"token": "A" * 22}, timeout=10)
    assert inactive.json() == {"active": False}


def test_every_answer_of_the_token_endpoints_is_no_store(stack, tokens):
    """RFC 6749 5.1: refusals too (outside check, round 12: a 401 of introspection and a 415 of
    /token carried no `no-store`)."""
    answers = [
        requests.post(f"{stack.api_url}/token/introspect", data={"token": tokens("alice")}, timeout=10),  # 401
        requests.post(f"{stack.api_url}/token/introspect", data={"token": "A" * 22}, timeout=10),  # inactive
        requests.post(f"{stack.api_url}/token", data={"grant_type": "x"}, timeout=10),  # 400
        requests.post(f"{stack.api_url}/token", json={"grant_type": "x"}, timeout=10),  # 415
    ]
    assert [a.status_code for a in answers] == [401, 200, 400, 415]
    assert all(a.headers.get("Cache-Control") == "no-store" for a in answers), [a.headers for a in answers]
