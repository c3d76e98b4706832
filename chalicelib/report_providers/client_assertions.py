"""`private_key_jwt` client authentication of report providers (RFC 7523 section 2.2).

The assertion must be signed (RS256 or ES256) by a key of the provider's `jwks_uri` chosen by
`kid`; `iss` = `sub` = client_id; `aud` the token endpoint; `exp` at most 10 minutes ahead; `jti`
used once (KHEOPS quirk 4, fixed): a replayed `jti` is `invalid_client` (RFC 7523 section 3.2) with a
description that names it, since providers written for KHEOPS reuse a constant `jti`."""
from __future__ import annotations

import hashlib
import threading
import time

import jwt
import requests

from chalicelib.errors import OAuthError
from chalicelib.report_providers import provider_config, registry
from chalicelib.store import one_time

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_LIFETIME = 600
LEEWAY = 60
JWKS_CACHE_SECONDS = 60
_jwks_cache: dict[str, tuple[float, dict]] = {}
_jwks_lock = threading.Lock()


def _jwks(url: str, refresh: bool = False) -> dict:
    from chalicelib import outbound

    with _jwks_lock:
        cached = _jwks_cache.get(url)
        if cached and not refresh and time.monotonic() - cached[0] < JWKS_CACHE_SECONDS:
            return cached[1]
    try:
        response = outbound.get(url, headers={"Accept": "application/json"})
        document = response.json() if response.status_code == 200 else {"keys": []}
    except (outbound.OutboundRefused, requests.RequestException, ValueError):
        document = {"keys": []}
    with _jwks_lock:
        _jwks_cache[url] = (time.monotonic(), document)
    return document


def _key(jwks_url: str, kid: str, algorithm: str):
    for refresh in (False, True):
        for jwk in _jwks(jwks_url, refresh).get("keys", []):
            if jwk.get("kid") == kid:
                family = jwt.algorithms.RSAAlgorithm if algorithm == "RS256" else jwt.algorithms.ECAlgorithm
                return family.from_jwk(jwk)
    return None


def authenticate(client_id: str, assertion_type: str | None, assertion: str | None, audience: str):
    """The provider and its configuration, once its assertion verifies; OAuthError otherwise."""
    if assertion_type != ASSERTION_TYPE or not assertion or not assertion.startswith("eyJ"):
        raise OAuthError("invalid_request", "client_assertion_type must be jwt-bearer with a JWT assertion")
    provider = registry.by_client_id(client_id)
    if provider is None:
        raise OAuthError("invalid_client", "unknown client")
    try:
        config = provider_config.fetch(provider.url)
    except provider_config.InvalidConfiguration as error:
        raise OAuthError("invalid_client", f"the client's configuration is not usable: {error}") from error
    if config.response_type != "code":
        raise OAuthError("unauthorized_client", "this client does not use the code flow")
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError as error:
        raise OAuthError("invalid_request", "client_assertion is malformed") from error
    algorithm = header.get("alg")
    if algorithm not in provider_config.SIGNING_ALGORITHMS or not header.get("kid"):
        raise OAuthError("invalid_request", "client_assertion needs an RS256 or ES256 signature and a kid")
    key = _key(config.jwks_uri, header["kid"], algorithm)
    if key is None:
        raise OAuthError("invalid_request", "client_assertion kid is not in the client's JWKS")
    try:
        claims = jwt.decode(assertion, key, algorithms=[algorithm], audience=audience, leeway=LEEWAY,
                            options={"require": ["iss", "sub", "aud", "exp", "jti"]})
    except jwt.PyJWTError as error:
        raise OAuthError("invalid_request", f"client_assertion rejected: {error}") from error
    if claims["iss"] != client_id or claims["sub"] != client_id:
        raise OAuthError("invalid_request", "client_assertion iss and sub must be the client_id")
    now = time.time()
    if claims["exp"] > now + MAX_LIFETIME + LEEWAY:
        raise OAuthError("invalid_request", "client_assertion expires more than 10 minutes ahead")
    jti = hashlib.sha256(f"{client_id}#{claims['jti']}".encode()).hexdigest()
    if not one_time.remember("JTI", jti, int(claims["exp"] - now) + LEEWAY):
        raise OAuthError("invalid_client", "client_assertion jti was already used: sign every assertion with "
                                           "a new, unique jti (RFC 7523 section 3)")
    return provider, config
