"""`POST /token`: one class per grant, each validating its request in small named steps, found in
the `GRANTS` registry by `grant_type` and client authentication (the shape of authlib's grants).
Errors are RFC 6749 section 5.2 `OAuthError`s."""
from __future__ import annotations

import re

from chalicelib.auth import capabilities, issued, policy
from chalicelib.auth.authenticate import principal_for_token
from chalicelib.auth.principals import ALBUM_CAPABILITY, USER, USER_CAPABILITY, Principal
from chalicelib.config import settings
from chalicelib.dicom.uids import is_keyable_uid
from chalicelib.errors import OAuthError, ObeliskError
from chalicelib.oauth import viewer_launch
from chalicelib.report_providers import client_assertions
from chalicelib.report_providers import launch as provider_launch

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
AUTHORIZATION_CODE = "authorization_code"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
_SCOPE_CHARS = re.compile(r"^[\x20\x21\x23-\x5B\x5D-\x7E]*$")


def token_endpoint() -> str:
    return f"{settings().api_url}/token"


def _one(form: dict[str, list[str]], name: str, required: bool = True) -> str | None:
    values = form.get(name) or []
    if len(values) > 1:
        raise OAuthError("invalid_request", f"{name} must be given once")
    if required and not (values and values[0]):
        raise OAuthError("invalid_request", f"{name} is required")
    return values[0] if values else None


def _response(token: str, expires_in: int, **extra) -> dict:
    return {"access_token": token, "token_type": "Bearer", "expires_in": expires_in, **extra}


class TokenExchangeGrant:
    """RFC 8693: a user, user-capability or album-capability token down-scoped to a viewer token
    for one study (docs/kheops-compatibility.md §2.3)."""

    GRANT_TYPE = TOKEN_EXCHANGE

    def __init__(self, form: dict[str, list[str]]):
        self.form = form

    @staticmethod
    def accepts(form: dict[str, list[str]]) -> bool:
        """Any client: the subject token is the credential."""
        return True

    def subject(self) -> Principal:
        if _one(self.form, "subject_token_type") != ACCESS_TOKEN_TYPE:
            raise OAuthError("invalid_request", "subject_token_type must be an access token")
        try:
            subject = principal_for_token(_one(self.form, "subject_token"))
        except ObeliskError as error:
            raise OAuthError("invalid_grant", "subject_token is not valid") from error
        if subject.kind not in (USER, USER_CAPABILITY, ALBUM_CAPABILITY):
            raise OAuthError("invalid_grant", "this kind of token cannot be exchanged")
        return subject

    def requested(self) -> list[str]:
        """The `read`/`write` words asked for (`viewer` is required)."""
        scope = _one(self.form, "scope")
        if not _SCOPE_CHARS.match(scope):
            raise OAuthError("invalid_scope", "scope has characters outside the allowed set")
        words = set(scope.split())
        if "viewer" not in words:
            raise OAuthError("invalid_scope", "scope must contain viewer")
        return [w for w in ("read", "write") if w in words]

    @staticmethod
    def granted(subject: Principal, requested: list[str], study_uid: str, source_type: str | None,
                source_id: str | None) -> str:
        """The requested words the subject holds for the study in its source (`policy.viewer_scope`);
        refused when none is left (never a fallback)."""
        source = policy.Source(album_id=source_id, inbox=source_type == "inbox")
        held = policy.viewer_scope(subject, study_uid, source, requested)
        if not held:
            raise OAuthError("invalid_scope", "the subject token holds none of the requested read/write rights")
        return " ".join(held)

    def source(self, subject: Principal) -> tuple[str | None, str | None]:
        source_type = _one(self.form, "source_type", required=False)
        source_id = _one(self.form, "source_id", required=False)
        if source_type not in (None, "album", "inbox") or (source_type == "album") != bool(source_id):
            raise OAuthError("invalid_request", "source_type is album (with source_id) or inbox")
        if subject.kind == ALBUM_CAPABILITY:
            if source_type == "inbox" or source_id not in (None, subject.album_id):
                raise OAuthError("invalid_grant", "an album token views only its own album")
            return "album", subject.album_id
        return source_type, source_id

    def execute(self) -> dict:
        subject = self.subject()
        requested = self.requested()
        study_uid = _one(self.form, "studyUID")
        if not is_keyable_uid(study_uid):
            raise OAuthError("invalid_request", "studyUID is not a valid UID")
        source_type, source_id = self.source(subject)
        narrowed = self.granted(subject, requested, study_uid, source_type, source_id)
        capability_key = capabilities.secret_hash(subject.token) if subject.capability_id else None
        token, expires_in = issued.mint_viewer(subject.sub, study_uid, narrowed, source_type, source_id,
                                               subject.capability_id, capability_key)
        return _response(token, expires_in, scope=narrowed,
                         issued_token_type=ACCESS_TOKEN_TYPE)


class ReportProviderCodeGrant:
    """`authorization_code` for report providers: `private_key_jwt` client authentication, then
    the code, bound to the client and its redirect URI, used once (docs/kheops-compatibility.md §11)."""

    GRANT_TYPE = AUTHORIZATION_CODE

    def __init__(self, form: dict[str, list[str]]):
        self.form = form

    @staticmethod
    def accepts(form: dict[str, list[str]]) -> bool:
        """Authenticated with a client assertion (checked in `execute`)."""
        return bool(form.get("client_assertion") or form.get("client_assertion_type"))

    def execute(self) -> dict:
        client_id = _one(self.form, "client_id")
        provider, config = client_assertions.authenticate(
            client_id, _one(self.form, "client_assertion_type"), _one(self.form, "client_assertion"),
            token_endpoint(),
        )
        grant = provider_launch.redeem_code(_one(self.form, "code"))
        if grant is None or grant.client_id != client_id:
            raise OAuthError("invalid_grant", "the code is invalid, expired or already used")
        if _one(self.form, "redirect_uri") != config.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri does not match")
        token, expires_in = issued.mint_report_provider(grant.sub, client_id, provider.album_id, grant.study_uids,
                                                        grant.scope, grant.capability_id, grant.capability_key)
        return _response(token, expires_in, scope=grant.scope)


class PublicClientCodeGrant:
    """`authorization_code` for the built-in public clients (OHIF), with PKCE S256."""

    GRANT_TYPE = AUTHORIZATION_CODE

    def __init__(self, form: dict[str, list[str]]):
        self.form = form

    @staticmethod
    def accepts(form: dict[str, list[str]]) -> bool:
        """A built-in public client, named by `client_id`."""
        return _one(form, "client_id", required=False) in viewer_launch.public_clients()

    def execute(self) -> dict:
        client_id = _one(self.form, "client_id")
        claims = viewer_launch.redeem_code(_one(self.form, "code"), client_id, _one(self.form, "redirect_uri"),
                                           _one(self.form, "code_verifier"))
        if claims is None:
            raise OAuthError("invalid_grant", "the code is invalid, expired, already used or the PKCE check failed")
        token, expires_in = issued.mint_viewer(claims["sub"], claims["study_uid"], claims["scope"],
                                               claims["source_type"], claims["source_id"],
                                               claims.get("capability_id"), claims.get("capability_key"))
        id_token = issued.mint_id_token(claims["sub"], client_id, claims.get("nonce"))
        return _response(token, expires_in, scope=claims["scope"], id_token=id_token)


# The registry: every grant the token endpoint serves, in the order they are tried. A grant serves
# a request of its `GRANT_TYPE` that it `accepts` (its client authentication); the report providers'
# code grant comes first, so a request carrying a client assertion is never taken for a public client's.
GRANTS = (TokenExchangeGrant, ReportProviderCodeGrant, PublicClientCodeGrant)


def grant_for(form: dict[str, list[str]]):
    grant_type = _one(form, "grant_type")
    candidates = [grant for grant in GRANTS if grant.GRANT_TYPE == grant_type]
    if not candidates:
        raise OAuthError("unsupported_grant_type", f"grant_type {grant_type} is not supported")
    for grant in candidates:
        if grant.accepts(form):
            return grant(form)
    raise OAuthError("unauthorized_client", f"{grant_type} needs private_key_jwt client authentication")


def exchange(form: dict[str, list[str]], authorization_header: str) -> dict:
    if authorization_header and form.get("client_assertion"):
        raise OAuthError("invalid_request", "use one client authentication method")
    return grant_for(form).execute()

