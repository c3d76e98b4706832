"""Turns a request's credentials into exactly one `Principal`.

Transports, identical in effect: `Authorization: Bearer <token>`, `Authorization: Basic` with the
token as password (user name ignored), and capability URLs `/api/link/{token}/...`."""
from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Callable

from chalicelib.auth import capabilities, facts, issued, oidc, reporting_sessions
from chalicelib.auth.principals import ALBUM_CAPABILITY, USER, Principal
from chalicelib.errors import Forbidden, Unauthenticated
from chalicelib.store import aws, shares, users

TOKEN_CHARSET = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+=_-~/")
MAX_TOKEN_LENGTH = 8192


class MissingCredentials(Unauthenticated):
    """No usable Authorization header: answered with `WWW-Authenticate` challenges."""


def _header(headers, name: str) -> str:
    return (headers.get(name) or headers.get(name.lower()) or "").strip()


def presented_token(headers, link_token: str | None) -> str:
    """The token a request carries, from the link prefix or the Authorization header."""
    if link_token:
        token = link_token
    else:
        authorization = _header(headers, "Authorization")
        scheme, _, value = authorization.partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and value:
            token = value
        elif scheme.lower() == "basic" and value:
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError) as error:
                raise MissingCredentials("malformed Basic credentials") from error
            _, separator, token = decoded.partition(":")
            if not separator or not token:
                raise MissingCredentials("malformed Basic credentials")
        else:
            raise MissingCredentials("no credentials")
    if len(token) > MAX_TOKEN_LENGTH or not set(token) <= TOKEN_CHARSET:
        raise Unauthenticated("malformed token")
    return token


def _user_from_oidc(token: str) -> Principal:
    identity = oidc.verify_access_token(token)
    early = facts.early_memberships()
    if early is None:
        user = users.get_or_none(identity.sub)
    else:  # the route will ask for the user's albums: read with the profile, at once
        user, member_of = aws.together(functools.partial(users.get_or_none, identity.sub),
                                       functools.partial(shares.memberships, identity.sub))
        if user is not None:  # a user registered below has an inbox the read cannot have seen
            early.known = (identity.sub, member_of)
    if user is None:
        profile = oidc.fetch_profile(identity)
        user = users.register(identity.sub, profile["email"], profile["name"],
                              email_verified=profile["email_verified"])
    return Principal(kind=USER, user=user, token=token)


# Verifiers by token shape, tried in order; the first whose shape matches decides, and a token
# of no known shape is tried as the identity provider's.
VERIFIERS: list[tuple[Callable[[str], bool], Callable[[str], Principal]]] = [
    (reporting_sessions.looks_like_report_session, reporting_sessions.verify),
    (capabilities.looks_like_capability, capabilities.verify),
    (issued.looks_issued, issued.verify),
]


def principal_for_token(token: str) -> Principal:
    for matches, verify in VERIFIERS:
        if matches(token):
            return verify(token)
    return _user_from_oidc(token)


def authenticate(headers, link_token: str | None = None) -> Principal:
    return principal_for_token(presented_token(headers, link_token))


SOURCE_HEADER = "X-Authorization-Source"


def source_principal(headers) -> Principal | None:
    """The principal of `X-Authorization-Source` (KHEOPS's import from a share link: the header
    carries the link's album token as `Bearer <token>`, `Authorization` the user's own token), or
    None without one.

    It is only ever the *source* of a copy: the routes that honour it ask the policy which series
    it may send (read through its album, with `send`), and take every destination right from the
    `Authorization` principal. Only album capability tokens qualify; anything else, or a token that
    does not verify, is refused with 403 (the caller's own credentials are fine)."""
    value = _header(headers, SOURCE_HEADER)
    if not value:
        return None
    try:
        token = presented_token({"Authorization": value}, None)
        source = capabilities.verify(token) if capabilities.looks_like_capability(token) else None
    except Unauthenticated as error:
        raise Forbidden(f"the {SOURCE_HEADER} token is not valid") from error
    if source is None or source.kind != ALBUM_CAPABILITY:
        raise Forbidden(f"{SOURCE_HEADER} must carry an album capability token")
    return source
