"""Launching a report provider for studies (docs/kheops-compatibility.md §11), both flows.

Checks, in the documented order: the token is valid and a user's; the client exists; the user is
a member of the provider's album; every study is in that album; the configuration validates.
Fix of KHEOPS quirk 3: both flows grant `write` only when the user holds ADD_SERIES."""
from __future__ import annotations

import html
from dataclasses import asdict, dataclass
from urllib.parse import urlencode

from chalicelib.auth import capabilities, policy
from chalicelib.auth.principals import Principal
from chalicelib.config import settings
from chalicelib.dicom.uids import require_uid
from chalicelib.errors import BadRequest, NotFound
from chalicelib.report_providers import provider_config, registry
from chalicelib.store import one_time

CODE_KIND = "RPCODE"
CODE_SECONDS = 600


@dataclass(frozen=True)
class ProviderGrant:
    """What a provider's token will allow: the launching user, the album, the studies, the scope."""

    sub: str
    client_id: str
    album_id: str
    study_uids: list[str]
    scope: str
    capability_id: str | None = None
    capability_key: str | None = None  # the launching capability's storage key: the token dies with it


def _grant(principal: Principal, client_id: str | None, study_uids: list[str]) -> tuple[ProviderGrant, provider_config.ProviderConfiguration]:
    policy.require_provider_launcher(principal)
    provider = registry.by_client_id(client_id or "")
    if provider is None:
        raise NotFound("Client ID not found", message="Report Provider Not Found")
    access = policy.provider_album_access(principal, provider.album_id)
    if not study_uids:
        raise BadRequest("studyUID is required")
    for study_uid in study_uids:
        require_uid(study_uid, "studyUID")
        policy.require_launched_study(provider.album_id, study_uid)
    try:
        config = provider_config.fetch(provider.url)
    except provider_config.InvalidConfiguration as error:
        raise BadRequest(f"the report provider's configuration is not valid: {error}") from error
    scope = policy.provider_launch_scope(access)
    capability_key = capabilities.secret_hash(principal.token) if principal.capability_id else None
    grant = ProviderGrant(principal.sub, provider.client_id, provider.album_id, list(study_uids), scope,
                          principal.capability_id, capability_key)
    return grant, config


def launch_url(principal: Principal, client_id: str | None, study_uids: list[str], mint_token) -> str:
    """The provider URL the user's browser is sent to. `mint_token(grant)` makes the provider's
    access token for the implicit flow (`(token, expires_in)`)."""
    grant, config = _grant(principal, client_id, study_uids)
    common = {
        "client_id": grant.client_id,
        "conf_uri": f"{settings().api_url}/.well-known/report-provider-configuration",
        "return_uri": f"{settings().web_url.rstrip('/')}/albums/{grant.album_id}",
    }
    studies = [("studyUID", s) for s in grant.study_uids]
    if config.response_type == "code":
        code = one_time.issue(CODE_KIND, asdict(grant), CODE_SECONDS)
        query = urlencode([("code", code), *common.items(), *studies])
        return f"{config.redirect_uri}{'&' if '?' in config.redirect_uri else '?'}{query}"
    token, expires_in = mint_token(grant)
    fragment = urlencode([("access_token", token), ("token_type", "bearer"), ("expires_in", str(expires_in)),
                          ("scope", grant.scope), *common.items(), *studies])
    return f"{config.redirect_uri}#{fragment}"


def redeem_code(code: str | None) -> ProviderGrant | None:
    claims = one_time.consume(CODE_KIND, code or "")
    return ProviderGrant(**claims) if claims else None


def redirect_page(url: str) -> str:
    """KHEOPS answers the launch with a page that moves on at once, not with an HTTP redirect."""
    quoted = html.escape(url, quote=True)
    return (f'<!doctype html><html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">'
            f"<meta http-equiv=\"refresh\" content=\"0;URL='{quoted}'\"><title>Opening the report provider</title>"
            f'</head><body><p><a href="{quoted}">Continue to the report provider</a></p></body></html>')
