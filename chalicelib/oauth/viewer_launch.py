"""OHIF launched securely (docs/kheops-compatibility.md §11, done the way KHEOPS planned it): Obelisk is the
OpenID Connect provider of the OHIF site, a public client using PKCE.

1. The web app POSTs the user's token and the study to `launch`: Obelisk checks the study is
   visible, keeps a one-time launch ticket in an HttpOnly cookie and sends the browser to OHIF.
2. OHIF's own sign-in redirect reaches `authorize`, which consumes the ticket and answers a
   one-time code bound to the client, redirect URI and PKCE challenge.
3. OHIF exchanges the code at `/token` for a viewer token limited to that study and source.
No code or token ever stays in a URL the viewer shows."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from chalicelib.auth import capabilities, policy
from chalicelib.auth.principals import Principal
from chalicelib.config import settings
from chalicelib.dicom.uids import require_uid
from chalicelib.errors import BadRequest
from chalicelib.oauth import pkce
from chalicelib.store import one_time

TICKET_KIND = "LAUNCH"
CODE_KIND = "OHIFCODE"
TICKET_SECONDS = 300
CODE_SECONDS = 60
COOKIE = "obelisk_launch"
OHIF_CLIENT_ID = "ohif"


def public_clients() -> dict[str, list[str]]:
    """Built-in public clients and their exact redirect URIs."""
    return {OHIF_CLIENT_ID: [settings().ohif_url.rstrip("/") + "/callback"]}


@dataclass(frozen=True)
class Launch:
    ticket: str
    viewer_url: str


def launch(principal: Principal, study_uid: str | None, source_type: str | None, source_id: str | None) -> Launch:
    policy.require_viewer_launcher(principal)
    study_uid = require_uid(study_uid, "studyUID")
    if source_type not in (None, "", "album", "inbox"):
        raise BadRequest("source_type must be album or inbox")
    if (source_type == "album") != bool(source_id):
        raise BadRequest("source_id is required with source_type=album, and only then")
    source = policy.Source(album_id=source_id or None, inbox=source_type == "inbox")
    scope = policy.viewer_launch_scope(principal, study_uid, source)
    ticket = one_time.issue(TICKET_KIND, {
        "sub": principal.sub, "study_uid": study_uid, "source_type": source_type or None,
        "source_id": source_id or None, "scope": scope,
        "capability_id": principal.capability_id,
        "capability_key": capabilities.secret_hash(principal.token) if principal.capability_id else None,
    }, TICKET_SECONDS)
    query = urlencode({"StudyInstanceUIDs": study_uid})
    return Launch(ticket, f"{settings().ohif_url.rstrip('/')}/viewer?{query}")


class AuthorizeError(Exception):
    """An error of the authorization request. `redirectable` ones go back to the client."""

    def __init__(self, error: str, description: str, redirectable: bool = True):
        super().__init__(description)
        self.error = error
        self.description = description
        self.redirectable = redirectable


def authorize(params: dict[str, str], ticket: str | None) -> str:
    """The redirect URI with a fresh code; raises AuthorizeError otherwise."""
    client_id, redirect_uri = params.get("client_id"), params.get("redirect_uri")
    if redirect_uri not in public_clients().get(client_id or "", []):
        raise AuthorizeError("invalid_request", "unknown client or unregistered redirect_uri", redirectable=False)
    if params.get("response_type") != "code":
        raise AuthorizeError("unsupported_response_type", "only response_type=code is supported")
    if not pkce.is_valid_challenge(params.get("code_challenge"), params.get("code_challenge_method")):
        raise AuthorizeError("invalid_request", "PKCE with code_challenge_method=S256 is required")
    launch_claims = one_time.consume(TICKET_KIND, ticket or "")
    if launch_claims is None:
        raise AuthorizeError("login_required", "open the viewer from Obelisk to sign in")
    code = one_time.issue(CODE_KIND, {
        **launch_claims, "client_id": client_id, "redirect_uri": redirect_uri,
        "code_challenge": params["code_challenge"], "nonce": params.get("nonce"),
    }, CODE_SECONDS)
    return _with_query(redirect_uri, {"code": code, "state": params.get("state")})


def error_redirect(params: dict[str, str], error: AuthorizeError) -> str:
    return _with_query(params["redirect_uri"], {"error": error.error, "error_description": error.description,
                                                "state": params.get("state")})


def _with_query(uri: str, values: dict[str, str | None]) -> str:
    query = urlencode({k: v for k, v in values.items() if v is not None})
    return f"{uri}{'&' if '?' in uri else '?'}{query}"


def redeem_code(code: str | None, client_id: str | None, redirect_uri: str | None, verifier: str | None) -> dict:
    """The launch claims of a code presented at /token by the public client, or None. Single use:
    a replayed code finds nothing."""
    claims = one_time.consume(CODE_KIND, code or "")
    if claims is None or claims["client_id"] != client_id or claims["redirect_uri"] != redirect_uri:
        return None
    if not pkce.verifies(verifier, claims["code_challenge"]):
        return None
    return claims
