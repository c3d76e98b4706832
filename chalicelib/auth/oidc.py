"""Verification of user access tokens from the OpenID Connect provider (Obelisk is the RP).

Discovery and keys are cached (keys per `kid`, 10 minutes); RS256 only; `iss` must equal the
configured and the discovered issuer; `exp`/`nbf` with 60 s leeway; `token_use` must be `access`
(an ID token is not an access token); `client_id` must be one of the configured app clients
(`OIDC_CLIENT_IDS`; none configured refuses every user token); the configured scope is always
*required* (KHEOPS inverted this check: quirk 1, fixed)."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from urllib.parse import urlparse

import jwt
import requests

from chalicelib import config
from chalicelib.config import settings
from chalicelib.errors import Unauthenticated, UpstreamFailure
from chalicelib.store.aws import client

CACHE_SECONDS = 600
LEEWAY_SECONDS = 60


@dataclass(frozen=True)
class Identity:
    """A verified user access token."""

    sub: str
    issuer: str
    claims: dict
    raw: str


class _Cache:
    def __init__(self):
        self.lock = threading.Lock()
        self.discovery: tuple[float, dict] | None = None
        self.keys: dict[str, tuple[float, object]] = {}


_cache = _Cache()


@config.on_reset
def _forget_provider() -> None:
    """The discovery document and keys came from the configured issuer (`settings().oidc_discovery_url`)."""
    with _cache.lock:
        _cache.discovery = None
        _cache.keys.clear()


def _fetch_json(url: str) -> dict:
    try:
        response = requests.get(url, timeout=5)
        response.raise_for_status()
        return response.json()
    except (requests.RequestException, ValueError) as error:
        raise UpstreamFailure(f"identity provider unreachable: {url}") from error


def discovery() -> dict:
    now = time.monotonic()
    with _cache.lock:
        if _cache.discovery and now - _cache.discovery[0] < CACHE_SECONDS:
            return _cache.discovery[1]
    document = _fetch_json(settings().oidc_discovery_url)
    with _cache.lock:
        _cache.discovery = (now, document)
    return document


def _signing_key(kid: str):
    now = time.monotonic()
    with _cache.lock:
        cached = _cache.keys.get(kid)
        if cached and now - cached[0] < CACHE_SECONDS:
            return cached[1]
    jwks = _fetch_json(discovery()["jwks_uri"])
    found = None
    with _cache.lock:
        for jwk in jwks.get("keys", []):
            if jwk.get("kty") == "RSA" and jwk.get("kid"):
                key = jwt.algorithms.RSAAlgorithm.from_jwk(jwk)
                _cache.keys[jwk["kid"]] = (now, key)
                if jwk["kid"] == kid:
                    found = key
    if found is None:
        raise Unauthenticated("unknown signing key")
    return found


def looks_like_oidc_token(token: str) -> bool:
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    return header.get("alg") == "RS256" and claims.get("iss") == settings().oidc_issuer


def _require_access_token(claims: dict, config) -> None:
    """An access token of one of Obelisk's app clients, with the required scope."""
    if claims.get("token_use") != "access":
        raise Unauthenticated("not an access token")
    if claims.get("client_id") not in config.oidc_client_ids:
        raise Unauthenticated("token issued to another client")
    if config.oidc_required_scope not in str(claims.get("scope", "")).split():
        raise Unauthenticated("required scope missing")


def verify_access_token(token: str) -> Identity:
    config = settings()
    if not config.oidc_issuer:
        raise Unauthenticated("no identity provider configured")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise Unauthenticated("malformed token") from error
    if header.get("alg") != "RS256" or not header.get("kid"):
        raise Unauthenticated("unsupported token")
    key = _signing_key(header["kid"])
    try:
        claims = jwt.decode(
            token,
            key=key,
            algorithms=["RS256"],
            issuer=discovery().get("issuer", config.oidc_issuer),
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iss", "sub"], "verify_aud": False},
        )
    except jwt.PyJWTError as error:
        raise Unauthenticated("token rejected") from error
    if claims["iss"] != config.oidc_issuer:
        raise Unauthenticated("token rejected")
    _require_access_token(claims, config)
    act = claims.get("act")
    if act is not None and not (isinstance(act, dict) and act.get("sub")):
        raise Unauthenticated("malformed act claim")
    return Identity(sub=claims["sub"], issuer=claims["iss"], claims=claims, raw=token)


def _verified(value) -> bool:
    """OIDC's `email_verified` is a boolean; Cognito's userinfo and GetUser give the string "true"."""
    return value is True or str(value).lower() == "true"


def fetch_profile(identity: Identity) -> dict:
    """`{"email", "email_verified", "name"}` of the token's user: from the provider's userinfo
    endpoint, or, for Cognito pools without a hosted domain, from Cognito's GetUser (which takes
    the access token). A missing `email_verified` counts as unverified."""
    userinfo_url = discovery().get("userinfo_endpoint")
    if userinfo_url:
        try:
            response = requests.get(
                userinfo_url, headers={"Authorization": f"Bearer {identity.raw}"}, timeout=5
            )
        except requests.RequestException as error:
            raise UpstreamFailure("userinfo endpoint unreachable") from error
        if response.status_code in (401, 403):
            raise Unauthenticated("userinfo refused the token")
        if response.status_code != 200:
            raise UpstreamFailure("userinfo endpoint failed")
        info = response.json()
        return {"email": info.get("email", ""), "email_verified": _verified(info.get("email_verified")),
                "name": info.get("name", "")}
    if urlparse(identity.issuer).hostname.startswith("cognito-idp."):
        try:
            user = client("cognito-idp").get_user(AccessToken=identity.raw)
        except client("cognito-idp").exceptions.NotAuthorizedException as error:
            raise Unauthenticated("identity provider refused the token") from error
        attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
        return {"email": attributes.get("email", ""), "email_verified": _verified(attributes.get("email_verified")),
                "name": attributes.get("name", user["Username"])}
    claims = identity.claims
    return {"email": claims.get("email", ""), "email_verified": _verified(claims.get("email_verified")),
            "name": claims.get("name", claims.get("preferred_username", ""))}
