"""`POST /token`: one class per grant, each validating its request in small named steps, found in
the `GRANTS` registry by `grant_type` and client authentication (the shape of authlib's grants).
Errors are RFC 6749 section 5.2 `OAuthError`s."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

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


# The form parameters a grant reads, by their name in the form -> the TokenRequest field.
PARAMETERS = {
    "grant_type": "grant_type", "client_id": "client_id", "client_assertion": "client_assertion",
    "client_assertion_type": "client_assertion_type", "code": "code", "redirect_uri": "redirect_uri",
    "code_verifier": "code_verifier", "subject_token": "subject_token", "subject_token_type": "subject_token_type",
    "scope": "scope", "studyUID": "study_uid", "source_type": "source_type", "source_id": "source_id",
}


@dataclass(frozen=True)
class TokenRequest:
    """A `POST /token` request as sent, parsed from its form in one place (`parse`): each parameter
    a grant reads (None: absent; the first value when repeated), the ones sent more than once, and
    the Authorization header. A grant reads a parameter with `one`, which answers in the OAuth error
    shape (RFC 6749 `invalid_request`) when it is repeated or, if required, absent or empty, at the
    moment the grant asks, so the order of the answers is the grant's order of steps."""

    grant_type: str | None = None
    client_id: str | None = None
    client_assertion: str | None = None
    client_assertion_type: str | None = None
    code: str | None = None
    redirect_uri: str | None = None
    code_verifier: str | None = None
    subject_token: str | None = None
    subject_token_type: str | None = None
    scope: str | None = None
    study_uid: str | None = None
    source_type: str | None = None
    source_id: str | None = None
    repeated: frozenset[str] = frozenset()
    authorization: str = ""

    @classmethod
    def parse(cls, form: Mapping[str, list[str]], authorization: str = "") -> TokenRequest:
        sent = {name: form[name] for name in PARAMETERS if form.get(name)}
        return cls(**{PARAMETERS[name]: values[0] for name, values in sent.items()},
                   repeated=frozenset(name for name, values in sent.items() if len(values) > 1),
                   authorization=authorization)

    def sent(self, name: str) -> bool:
        """Whether the form carried the parameter (even empty)."""
        return getattr(self, PARAMETERS[name]) is not None

    def one(self, name: str, required: bool = True) -> str | None:
        """The parameter's value; `invalid_request` when repeated, or required and absent or empty."""
        if name in self.repeated:
            raise OAuthError("invalid_request", f"{name} must be given once")
        value = getattr(self, PARAMETERS[name])
        if required and not value:
            raise OAuthError("invalid_request", f"{name} is required")
        return value


def _response(token: str, expires_in: int, **extra) -> dict:
    return {"access_token": token, "token_type": "Bearer", "expires_in": expires_in, **extra}


class TokenExchangeGrant:
    """RFC 8693: a user, user-capability or album-capability token down-scoped to a viewer token
    for one study (docs/kheops-compatibility.md §2.3)."""

    GRANT_TYPE = TOKEN_EXCHANGE

    def __init__(self, request: TokenRequest):
        self.request = request

    @staticmethod
    def accepts(request: TokenRequest) -> bool:
        """Any client: the subject token is the credential."""
        return True

    def subject(self) -> Principal:
        if self.request.one("subject_token_type") != ACCESS_TOKEN_TYPE:
            raise OAuthError("invalid_request", "subject_token_type must be an access token")
        try:
            subject = principal_for_token(self.request.one("subject_token"))
        except ObeliskError as error:
            raise OAuthError("invalid_grant", "subject_token is not valid") from error
        if subject.kind not in (USER, USER_CAPABILITY, ALBUM_CAPABILITY):
            raise OAuthError("invalid_grant", "this kind of token cannot be exchanged")
        return subject

    def requested(self) -> list[str]:
        """The `read`/`write` words asked for (`viewer` is required)."""
        scope = self.request.one("scope")
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
        source_type = self.request.one("source_type", required=False)
        source_id = self.request.one("source_id", required=False)
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
        study_uid = self.request.one("studyUID")
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

    def __init__(self, request: TokenRequest):
        self.request = request

    @staticmethod
    def accepts(request: TokenRequest) -> bool:
        """Authenticated with a client assertion (checked in `execute`)."""
        return request.sent("client_assertion") or request.sent("client_assertion_type")

    def execute(self) -> dict:
        client_id = self.request.one("client_id")
        provider, config = client_assertions.authenticate(
            client_id, self.request.one("client_assertion_type"), self.request.one("client_assertion"),
            token_endpoint(),
        )
        grant = provider_launch.redeem_code(self.request.one("code"))
        if grant is None or grant.client_id != client_id:
            raise OAuthError("invalid_grant", "the code is invalid, expired or already used")
        if self.request.one("redirect_uri") != config.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri does not match")
        token, expires_in = issued.mint_report_provider(grant.sub, client_id, provider.album_id, grant.study_uids,
                                                        grant.scope, grant.capability_id, grant.capability_key)
        return _response(token, expires_in, scope=grant.scope)


class PublicClientCodeGrant:
    """`authorization_code` for the built-in public clients (OHIF), with PKCE S256."""

    GRANT_TYPE = AUTHORIZATION_CODE

    def __init__(self, request: TokenRequest):
        self.request = request

    @staticmethod
    def accepts(request: TokenRequest) -> bool:
        """A built-in public client, named by `client_id`."""
        return request.one("client_id", required=False) in viewer_launch.public_clients()

    def execute(self) -> dict:
        client_id = self.request.one("client_id")
        claims = viewer_launch.redeem_code(self.request.one("code"), client_id, self.request.one("redirect_uri"),
                                           self.request.one("code_verifier"))
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


def grant_for(request: TokenRequest | Mapping[str, list[str]]):
    """The grant serving the request (a form as sent is parsed first)."""
    if not isinstance(request, TokenRequest):
        request = TokenRequest.parse(request)
    grant_type = request.one("grant_type")
    candidates = [grant for grant in GRANTS if grant.GRANT_TYPE == grant_type]
    if not candidates:
        raise OAuthError("unsupported_grant_type", f"grant_type {grant_type} is not supported")
    for grant in candidates:
        if grant.accepts(request):
            return grant(request)
    raise OAuthError("unauthorized_client", f"{grant_type} needs private_key_jwt client authentication")


def exchange(request: TokenRequest) -> dict:
    if request.authorization and request.sent("client_assertion"):
        raise OAuthError("invalid_request", "use one client authentication method")
    return grant_for(request).execute()

