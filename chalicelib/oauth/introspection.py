"""`POST /token/introspect` (docs/kheops-compatibility.md §2.4): what a token is, for whom it may be told."""
from __future__ import annotations

from chalicelib.auth import capabilities, issued
from chalicelib.auth.principals import ALBUM_CAPABILITY
from chalicelib.config import settings
from chalicelib.errors import ObeliskError, Unauthenticated
from chalicelib.report_providers import provider_config, registry

INACTIVE = {"active": False}


def introspect(token: str | None) -> dict:
    """Capability and report-provider tokens are described to anyone; OIDC and viewer tokens only
    to internal clients, which Obelisk has none of (a public caller gets 401)."""
    if not token:
        return INACTIVE
    if capabilities.looks_like_capability(token):
        principal = _verified(capabilities.verify, token)
        return _capability(principal) if principal else INACTIVE
    if issued.looks_issued(token):
        claims = _verified(issued.decode, token)
        return _report_provider(claims) if claims else INACTIVE
    raise Unauthenticated("only internal clients may introspect this token")


def _verified(verify, token: str):
    """What `verify` makes of the token, or None when it does not verify (an inactive token)."""
    try:
        return verify(token)
    except ObeliskError:
        return None


def _capability(principal) -> dict:
    body = {"active": True, "sub": principal.sub, "scope": " ".join(sorted(principal.scope)),
            "cap_token": principal.capability_id, "iss": settings().api_url}
    if principal.kind == ALBUM_CAPABILITY:
        body["album_id"] = principal.album_id
    return body


def _report_provider(claims: dict) -> dict:
    """A report-provider token is active while its source lives and its provider's configuration
    can be read; other tokens Obelisk issues are told to internal clients only."""
    if claims.get("type") != issued.REPORT_PROVIDER_TYPE:
        raise Unauthenticated("only internal clients may introspect this token")
    if not issued.source_alive(claims):
        return INACTIVE
    provider = registry.by_client_id(claims["azp"])
    try:
        config = provider_config.fetch(provider.url) if provider else None
    except provider_config.InvalidConfiguration:
        config = None
    if config is None:
        return INACTIVE
    studies = claims["studyUID"]
    return {"active": True, "iss": claims["iss"], "sub": claims["sub"], "scope": claims["scope"],
            "azp": claims["azp"], "client_id": claims["azp"], "exp": claims["exp"], "iat": claims["iat"],
            "nbf": claims.get("nbf", claims["iat"]), "aud": claims["aud"], "album_id": claims["album_id"],
            "redirect_uri": config.redirect_uri, "studyUID": studies[0] if len(studies) == 1 else studies,
            **({"cap_token": claims["cap_token"]} if claims.get("cap_token") else {})}
