"""A report provider's configuration document (docs/kheops-compatibility.md §11): fetch and validate.

Validation answers the KHEOPS error strings. Fixes: the two root-mismatch errors say what they
mean (KHEOPS swapped them), and ES256 is accepted beside RS256 for client assertions."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

SIGNING_ALGORITHMS = ("RS256", "ES256")
RESPONSE_TYPES = ("code", "token")
ECHOED_KEYS = (
    "redirect_uri", "response_type", "token_endpoint_auth_method", "token_endpoint_auth_signing_alg",
    "jwks_uri", "client_name", "client_uri", "logo_uri", "contacts", "tos_uri", "policy_uri", "software_id",
    "software_version", "scope", "grant_types", "introspection_endpoint_auth_method",
    "introspection_endpoint_auth_signing_alg", "supported_modalities",
)


class InvalidConfiguration(ValueError):
    """The document cannot be used; the message is the KHEOPS `error_description`."""


# Every failure to obtain a JSON document (address refused, no answer, refused connection, an
# HTTP error status, a body that is not JSON) says the same, so that the answers do not map which
# hosts and ports exist behind the API.
UNREACHABLE = "the configuration URL did not answer a JSON document"


@dataclass(frozen=True)
class ProviderConfiguration:
    config_url: str
    redirect_uri: str
    response_type: str
    jwks_uri: str | None
    signing_alg: str | None
    document: dict

    def metadata(self) -> dict:
        """The parsed keys as `POST /reportproviders/metadata` echoes them."""
        return {"valid": True, **{k: self.document[k] for k in ECHOED_KEYS if k in self.document}}


def _authority(url: str) -> tuple[str, str] | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.scheme, parts.netloc.lower()


def validate(config_url: str, document: object) -> ProviderConfiguration:
    root = _authority(config_url)
    if root is None:
        raise InvalidConfiguration("config_uri syntax not valid")
    if not isinstance(document, dict):
        raise InvalidConfiguration("configuration is not a JSON object")
    redirect_uri = _same_authority_url(document, "redirect_uri", root)
    response_type = _one_of(document, "response_type", RESPONSE_TYPES)
    jwks_uri = signing_alg = None
    if response_type == "code":
        _one_of(document, "token_endpoint_auth_method", ("private_key_jwt",))
        jwks_uri = _same_authority_url(document, "jwks_uri", root)
        signing_alg = _one_of(document, "token_endpoint_auth_signing_alg", SIGNING_ALGORITHMS)
    return ProviderConfiguration(config_url, redirect_uri, response_type, jwks_uri, signing_alg, document)


def _same_authority_url(document: dict, name: str, root: tuple[str, str]) -> str:
    """A URL field of the document, on the configuration URL's scheme and authority."""
    value = document.get(name)
    if not value:
        raise InvalidConfiguration(f"{name} is null")
    if not isinstance(value, str) or _authority(value) is None:
        raise InvalidConfiguration(f"{name} syntax not valid")
    if _authority(value) != root:
        raise InvalidConfiguration(f"{name} does not have the same scheme and authority as the configuration URL")
    return value


def _one_of(document: dict, name: str, known) -> str:
    """A field whose value must be one of `known`."""
    value = document.get(name)
    if not value:
        raise InvalidConfiguration(f"missing {name}")
    if value not in known:
        raise InvalidConfiguration(f"unknown {name}")
    return value


def fetch(config_url: str) -> ProviderConfiguration:
    """GETs and validates a configuration document through the outbound safety rules."""
    from chalicelib import outbound

    if _authority(config_url) is None:
        raise InvalidConfiguration("config_uri syntax not valid")
    try:
        response = outbound.get(config_url, headers={"Accept": "application/json"})
        if response.status_code != 200:
            raise InvalidConfiguration(UNREACHABLE)
        document = response.json()
    except (outbound.OutboundRefused, requests.RequestException, ValueError) as error:
        raise InvalidConfiguration(UNREACHABLE) from error
    return validate(config_url, document)
