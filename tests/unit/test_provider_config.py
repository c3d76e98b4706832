"""Report-provider configuration documents (docs/kheops-compatibility.md §11)."""
from urllib.parse import urlsplit

import pytest

from chalicelib import config
from chalicelib.config import settings
from chalicelib.report_providers.provider_config import InvalidConfiguration, validate

URL = "https://rp.example/.well-known/kheops-report-configuration"
GOOD = {
    "jwks_uri": "https://rp.example/certs", "response_type": "code",
    "token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "RS256",
    "redirect_uri": "https://rp.example/report.html", "client_name": "Sample", "contacts": ["a@b.c"],
}


def test_a_good_document_validates_and_echoes_its_keys():
    config = validate(URL, GOOD)
    assert config.redirect_uri == "https://rp.example/report.html"
    assert config.metadata() == {"valid": True, **GOOD}


def test_implicit_flow_needs_no_keys():
    assert validate(URL, {"redirect_uri": "https://rp.example/r", "response_type": "token"}).jwks_uri is None


@pytest.mark.parametrize("change, error", [
    ({"redirect_uri": None}, "redirect_uri is null"),
    ({"redirect_uri": "not a url"}, "redirect_uri syntax not valid"),
    ({"redirect_uri": "https://evil.example/r"}, "redirect_uri does not have the same scheme and authority"),
    ({"redirect_uri": "http://rp.example/r"}, "redirect_uri does not have the same scheme and authority"),
    ({"response_type": None}, "missing response_type"),
    ({"response_type": "id_token"}, "unknown response_type"),
    ({"token_endpoint_auth_method": None}, "missing token_endpoint_auth_method"),
    ({"token_endpoint_auth_method": "kheops_private_key_jwt"}, "unknown token_endpoint_auth_method"),
    ({"jwks_uri": None}, "jwks_uri is null"),
    ({"jwks_uri": "ftp://rp.example/certs"}, "jwks_uri syntax not valid"),
    ({"jwks_uri": "https://other.example/certs"}, "jwks_uri does not have the same scheme and authority"),
    ({"token_endpoint_auth_signing_alg": None}, "missing token_endpoint_auth_signing_alg"),
    ({"token_endpoint_auth_signing_alg": "HS256"}, "unknown token_endpoint_auth_signing_alg"),
])
def test_each_flaw_is_named(change, error):
    document = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(InvalidConfiguration) as refused:
        validate(URL, document)
    assert str(refused.value).startswith(error)


def test_bad_config_url():
    with pytest.raises(InvalidConfiguration, match="config_uri syntax not valid"):
        validate("javascript:alert(1)", GOOD)


def test_conf_uri_and_return_uri_bases_share_the_public_origin_by_default(monkeypatch):
    """A launch's conf_uri is on `api_url`, its return_uri on `web_url`: with the web app at the public
    origin (no OBELISK_WEB_URL, a deployment) they share it, as KHEOPS's sample provider requires."""
    monkeypatch.setenv("OBELISK_PUBLIC_URL", "https://obelisk.example")
    monkeypatch.delenv("OBELISK_WEB_URL", raising=False)
    config.reset()
    try:
        assert urlsplit(settings().api_url)[:2] == urlsplit(settings().web_url)[:2] == ("https", "obelisk.example")
    finally:
        config.reset()
