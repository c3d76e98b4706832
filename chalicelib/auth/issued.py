"""Tokens Obelisk issues as signed JWTs: viewer tokens (token exchange, the OHIF launch) and
report-provider tokens. Both are verified on every use; expiry is enforced (KHEOPS quirk 2, fixed)."""
from __future__ import annotations

import time

import jwt

from chalicelib.auth import capabilities, signing
from chalicelib.auth.principals import REPORT_PROVIDER, VIEWER, Principal
from chalicelib.config import settings
from chalicelib.errors import Unauthenticated
from chalicelib.store import users

VIEWER_TYPE = "viewer"
REPORT_PROVIDER_TYPE = "report_generator"
VIEWER_SECONDS = 5 * 3600
REPORT_PROVIDER_SECONDS = 3600


def _claims(sub: str, token_type: str, lifetime: int, **extra) -> dict:
    now = int(time.time())
    return {"iss": settings().api_url, "aud": settings().api_url, "sub": sub, "type": token_type,
            "iat": now, "nbf": now, "exp": now + lifetime, **{k: v for k, v in extra.items() if v is not None}}


def mint_viewer(sub: str, study_uid: str, scope: str, source_type: str | None = None,
                source_id: str | None = None, capability_id: str | None = None,
                capability_key: str | None = None) -> tuple[str, int]:
    """A viewer token; minted from a capability it names it (`cap_token`) and its storage key
    (`cap_key`, the SHA-256 of the secret, not the secret) so that every use checks it."""
    claims = _claims(sub, VIEWER_TYPE, VIEWER_SECONDS, studyUID=study_uid, scope=scope,
                     source_type=source_type, source_id=source_id, cap_token=capability_id,
                     cap_key=capability_key)
    return signing.sign(claims), VIEWER_SECONDS


def mint_report_provider(sub: str, client_id: str, album_id: str, study_uids: list[str], scope: str,
                         capability_id: str | None = None, capability_key: str | None = None) -> tuple[str, int]:
    """A report provider's token; launched with a user capability it names it (`cap_token`,
    `cap_key`) like a viewer token, so that it dies with it."""
    claims = _claims(sub, REPORT_PROVIDER_TYPE, REPORT_PROVIDER_SECONDS, azp=client_id, album_id=album_id,
                     studyUID=list(study_uids), scope=scope, cap_token=capability_id, cap_key=capability_key)
    return signing.sign(claims), REPORT_PROVIDER_SECONDS


def looks_issued(token: str) -> bool:
    try:
        return jwt.decode(token, options={"verify_signature": False}).get("iss") == settings().api_url
    except jwt.PyJWTError:
        return False


def decode(token: str) -> dict:
    try:
        return signing.verify(token, audience=settings().api_url)
    except jwt.PyJWTError as error:
        raise Unauthenticated("token rejected") from error


def _source_capability(claims: dict):
    """The still-valid capability a viewer or report-provider token was minted from (one GetItem, which also gives
    the user's profile); 401 once it is revoked (an admin's demotion or removal revokes the album
    capabilities they created) or expired."""
    capability = capabilities.valid_capability(claims["cap_key"])
    if capability.capability_id != claims.get("cap_token") or capability.owner_sub != claims["sub"]:
        raise Unauthenticated("token rejected")
    return capability


def source_alive(claims: dict) -> bool:
    """Whether the capability an issued token was minted from (if any) is still valid."""
    try:
        return _source_capability(claims) is not None if claims.get("cap_key") else True
    except Unauthenticated:
        return False


def _acting_user(claims: dict):
    """The user an issued token acts for, and the capability it was minted from (None for a user
    token). From a capability, its one GetItem gives the user's profile too (the budget)."""
    capability = _source_capability(claims) if claims.get("cap_key") else None
    user = capabilities.owner_of(capability) if capability else users.get_or_none(claims["sub"])
    if user is None:
        raise Unauthenticated("unknown user")
    return user, capability


def _viewer(claims: dict, token: str) -> Principal:
    """A viewer dies with its source: the capability it was minted from (checked here), or the
    user's membership of its source album (checked by the policy on every read)."""
    user, capability = _acting_user(claims)
    return Principal(kind=VIEWER, user=user, scope=frozenset(str(claims.get("scope", "")).split()),
                     album_id=claims.get("source_id"), inbox_only=claims.get("source_type") == "inbox",
                     study_uids=frozenset([claims["studyUID"]]), capability_id=claims.get("cap_token"),
                     needs_album_admin=bool(capability and capability.scope_type == "album"), token=token)


def verify(token: str) -> Principal:
    claims = decode(token)
    if claims.get("type") == VIEWER_TYPE:
        return _viewer(claims, token)
    if claims.get("type") == REPORT_PROVIDER_TYPE:
        user, _ = _acting_user(claims)  # dies with the capability it was launched with
        scope = frozenset(str(claims.get("scope", "read")).split())
        return Principal(kind=REPORT_PROVIDER, user=user, scope=scope, album_id=claims["album_id"],
                         study_uids=frozenset(claims["studyUID"]), client_id=claims["azp"],
                         capability_id=claims.get("cap_token"), token=token)
    raise Unauthenticated("not an access token")


def mint_id_token(sub: str, client_id: str, nonce: str | None) -> str:
    """The OpenID Connect ID token for a public client (OHIF) of Obelisk's own provider."""
    now = int(time.time())
    claims = {"iss": settings().api_url, "aud": client_id, "sub": sub, "iat": now, "exp": now + 300}
    if nonce:
        claims["nonce"] = nonce
    user = users.get_or_none(sub)
    if user is not None:
        claims.update(email=user.email, name=user.name)
    return signing.sign(claims)
