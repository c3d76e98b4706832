"""The token endpoint, introspection, published keys, discovery documents and `/userinfo`."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api import responses
from chalicelib.api.routing import FORM, MalformedForm, form, route
from chalicelib.auth import policy, signing
from chalicelib.config import settings
from chalicelib.errors import OAuthError
from chalicelib.oauth import introspection, token_grants
from chalicelib.serializers import users as user_json

bp = Blueprint(__name__)
NO_STORE = responses.NO_STORE


def _oauth_error(error: OAuthError) -> Response:
    return responses.json_body(error.body(), status=400, headers=NO_STORE)


@route(bp, "/token", methods=["POST"], linkable=False, content_types=FORM, no_store=True)
def token():
    request = bp.current_request
    try:
        body = token_grants.exchange(token_grants.TokenRequest.parse(_oauth_form(request),
                                                                     request.headers.get("authorization", "")))
    except OAuthError as error:
        return _oauth_error(error)
    return responses.json_body(body, headers=NO_STORE)


def _oauth_form(request) -> dict[str, list[str]]:
    """The form of an OAuth endpoint; a malformed one is an RFC 6749 `invalid_request`."""
    try:
        return form(request)
    except MalformedForm as error:
        raise OAuthError("invalid_request", error.detail) from error


@route(bp, "/token/introspect", methods=["POST"], linkable=False, content_types=FORM, no_store=True)
def introspect():
    try:
        values = _oauth_form(bp.current_request).get("token") or [None]
    except OAuthError as error:
        return _oauth_error(error)
    return responses.json_body(introspection.introspect(values[0]), headers=NO_STORE)


@route(bp, "/.well-known/jwks.json", methods=["GET"], linkable=False)
def jwks():
    return responses.json_body(signing.jwks(), headers={"Cache-Control": "public, max-age=300"})


def _endpoints() -> dict:
    api = settings().api_url
    return {
        "issuer": api, "dicomweb_endpoint": api, "dicomweb_uri_endpoint": f"{api}/wado",
        "authorization_endpoint": f"{api}/authorize", "token_endpoint": f"{api}/token",
        "introspection_endpoint": f"{api}/token/introspect", "userinfo_endpoint": f"{api}/userinfo",
        "jwks_uri": f"{api}/.well-known/jwks.json",
    }


@route(bp, "/.well-known/report-provider-configuration", methods=["GET"], linkable=False)
def report_provider_configuration():
    return responses.json_body({
        **_endpoints(),
        "grant_types_supported": ["authorization_code", "implicit", "urn:ietf:params:oauth:grant-type:token-exchange"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
        "introspection_endpoint_auth_methods_supported": ["private_key_jwt", "none"],
        "introspection_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
        "response_types_supported": ["code", "token"],
        "response_modes_supported": ["query", "fragment"],
    })


@route(bp, "/.well-known/openid-configuration", methods=["GET"], linkable=False)
def openid_configuration():
    return responses.json_body({
        **_endpoints(),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "urn:ietf:params:oauth:grant-type:token-exchange"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [signing.ALGORITHM],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
        "scopes_supported": ["openid", "viewer", "read", "write"],
    })


@route(bp, "/userinfo", methods=["GET"], linkable=False)
def userinfo(caller):
    policy.require_userinfo_reader(caller)
    return responses.json_body(user_json.user(caller.user))
