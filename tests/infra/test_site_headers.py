"""The deployed sites send the headers the local static servers send (devstack/site_headers.py is
their one home): CloudFront's response-headers policies of the assembled template, with the
Content-Security-Policies `make deploy` renders from the stack outputs, read back as HTTP headers,
equal what `devstack/static_site.py` sends for the same built sites (plus HSTS, HTTPS only).
So on AWS, as locally, the web app may POST the viewer and report launches to the API and OHIF,
and OHIF runs its inline start-up scripts and reads data:/blob: URLs."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devstack import site_headers
from infra import deploy

REGION = "eu-central-1"
OUTPUTS = {
    "WebUrl": "https://obelisk.hospital.example.org", "OhifUrl": "https://d2222222222222.cloudfront.net",
    "HostedSignInUrl": "https://obelisk-prod-123456789012.auth.eu-central-1.amazoncognito.com",
    "UserPoolClientId": "client123", "WebClientId": "client123", "DicomBucket": "obelisk-prod-dicom",
}
OHIF_INDEX = ("<!doctype html><html><head><script>window.PUBLIC_URL = '/';</script>"
              "<script src=\"/app-config.js\"></script><script>console.log('start')</script></head></html>")


def as_http_headers(config: dict[str, Any], parameters: dict[str, str]) -> dict[str, str]:
    """A CloudFront ResponseHeadersPolicyConfig as the headers a browser receives."""
    security = config["SecurityHeadersConfig"]
    csp = security["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    hsts = security["StrictTransportSecurity"]
    headers = {
        "X-Frame-Options": security["FrameOptions"]["FrameOption"],
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": security["ReferrerPolicy"]["ReferrerPolicy"],
        "Strict-Transport-Security": f"max-age={hsts['AccessControlMaxAgeSec']}"
                                     + ("; includeSubDomains" if hsts.get("IncludeSubdomains") else ""),
        "Content-Security-Policy": parameters[csp["Ref"]] if isinstance(csp, dict) else csp,
    }
    for item in config.get("CustomHeadersConfig", {}).get("Items", []):
        headers[item["Header"]] = item["Value"]
    return headers


@pytest.fixture(scope="module")
def deployed(monkeypatch_module) -> dict[str, dict[str, str]]:
    template = deploy.merged_template("prod")["Resources"]
    parameters = deploy.site_parameters(OUTPUTS, REGION, OHIF_INDEX)
    return {site: as_http_headers(template[policy]["Properties"]["ResponseHeadersPolicyConfig"], parameters)
            for site, policy in (("web", "WebHeadersPolicy"), ("ohif", "OhifHeadersPolicy"))}


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        yield patch


@pytest.fixture(scope="module")
def local(tmp_path_factory) -> dict[str, dict[str, str]]:
    """What the local static server sends for the same sites, built as `make deploy` builds them."""
    storage = deploy.storage_url(OUTPUTS["DicomBucket"], REGION)
    web, ohif = tmp_path_factory.mktemp("web"), tmp_path_factory.mktemp("ohif")
    api_url = OUTPUTS["WebUrl"] + "/api"
    (web / "config.json").write_text(json.dumps(deploy.web_config(OUTPUTS, api_url)))
    (ohif / "obelisk-site.json").write_text(json.dumps({"api_url": api_url}))
    (ohif / "index.html").write_text(OHIF_INDEX)
    return {"web": site_headers.for_site(Path(web), storage), "ohif": site_headers.for_site(Path(ohif), storage)}


@pytest.mark.parametrize("site", ["web", "ohif"])
def test_cloudfront_sends_the_local_headers(deployed, local, site):
    assert deployed[site] == {**local[site], **site_headers.HTTPS_ONLY}


def test_launches_and_ohif_start_up_are_allowed_on_aws(deployed):
    web = dict(d.strip().split(" ", 1) for d in deployed["web"]["Content-Security-Policy"].split(";"))
    assert OUTPUTS["OhifUrl"] in web["form-action"]  # the viewer launch POSTs to OHIF
    ohif = dict(d.strip().split(" ", 1) for d in deployed["ohif"]["Content-Security-Policy"].split(";"))
    assert ohif["script-src"].count("'sha256-") == 2  # OHIF's two inline scripts
    assert {"data:", "blob:"} <= set(ohif["connect-src"].split())
    assert OUTPUTS["WebUrl"] in ohif["connect-src"]  # the API, under the web app's origin
    assert deployed["ohif"]["Cross-Origin-Embedder-Policy"] == "credentialless"


def test_presigned_urls_are_allowed_where_the_api_signs_them():
    """Path-style, as chalicelib/store/aws.py signs: the regional S3 endpoint, not a bucket host."""
    assert deploy.storage_url("obelisk-prod-dicom", REGION) == "https://s3.eu-central-1.amazonaws.com"
