"""The security headers of the two static sites, in one place: the local static server
(`devstack/static_site.py`) sends them, and `infra/deploy.py` writes the same into CloudFront's
response-headers policies (`cloudfront_policy`; the Content-Security-Policies it renders with
`web_app_headers` / `ohif_headers` for the deployed URLs). In AWS the sites are HTTPS only and
also send HSTS (`HTTPS_ONLY`); nothing else differs.

Neither site may be framed (`X-Frame-Options: DENY` and CSP `frame-ancestors 'none'`: a framed,
signed-in app can be clicked through by the page around it). Each Content-Security-Policy lets
the site reach only what it uses:
- the web app: its own files, the API, the identity provider (sign-in calls / hosted pages), the
  DICOM bucket (the API answers reads with 303 to presigned S3 URLs, large uploads PUT to one),
  form POSTs to the API whose launch answers redirect to OHIF;
- OHIF: its own files, the API (DICOMweb, OpenID Connect), the DICOM bucket (presigned frames),
  its web workers and WebAssembly codecs, and its inline start-up scripts by hash (computed from
  the built `index.html`).
`storage_url` is where presigned URLs point (one URL or several): the emulator locally, in AWS
the S3 endpoint the API signs for (`infra.deploy.storage_url`)."""
from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

COMMON = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
WEB_APP_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
               "font-src 'self'; connect-src 'self' {api} {identity} {storage}; form-action 'self' {api} {ohif}; "
               "frame-ancestors 'none'; frame-src 'none'; object-src 'none'; base-uri 'none'")
OHIF_CSP = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval' {inline_scripts}; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
            "connect-src 'self' {api} {storage} data: blob:; worker-src 'self' blob:; media-src 'self' blob: {api} {storage}; "
            "form-action 'self' {api}; frame-ancestors 'none'; object-src 'none'; base-uri 'self'")
# OHIF's own isolation headers: SharedArrayBuffer for its decoders (3D, multiplanar views).
OHIF_ISOLATION = {"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "credentialless"}
# Each site's headers but its Content-Security-Policy.
SITES = {"web": COMMON, "ohif": {**COMMON, **OHIF_ISOLATION}}
# What only the deployed (HTTPS) sites send.
HSTS_SECONDS = 31536000
HTTPS_ONLY = {"Strict-Transport-Security": f"max-age={HSTS_SECONDS}; includeSubDomains"}


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def _origins(*urls: str) -> str:
    return " ".join(dict.fromkeys(o for o in map(origin, urls) if o))


def _storage(storage_url: str | Sequence[str]) -> str:
    return _origins(*([storage_url] if isinstance(storage_url, str) else storage_url))


def _tidy(policy: str) -> str:
    return re.sub(r" +;", ";", re.sub(r" +", " ", policy))


def web_app_headers(config: dict, storage_url: str | Sequence[str] = "") -> dict[str, str]:
    """The web app's headers for its `config.json` (API, sign-in endpoints, OHIF) and storage."""
    auth = config.get("auth") or {}
    identity = _origins(*(auth.get(k, "") for k in ("cognito_endpoint", "authorization_endpoint",
                                                    "token_endpoint", "logout_endpoint")))
    csp = WEB_APP_CSP.format(api=_origins(config.get("api_url", "")), identity=identity,
                             storage=_storage(storage_url), ohif=_origins(config.get("ohif_url", "")))
    return {**SITES["web"], "Content-Security-Policy": _tidy(csp)}


def inline_script_hashes(index_html: str) -> str:
    """CSP sources for the inline `<script>` blocks of a page (OHIF's start-up code)."""
    bodies = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", index_html, flags=re.S)
    return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'"
                    for b in bodies if b.strip())


def ohif_headers(api_url: str, index_html: str, storage_url: str | Sequence[str] = "") -> dict[str, str]:
    """OHIF's headers for the API it uses, storage, and its built `index.html`."""
    csp = OHIF_CSP.format(api=_origins(api_url), storage=_storage(storage_url),
                          inline_scripts=inline_script_hashes(index_html))
    return {**SITES["ohif"], "Content-Security-Policy": _tidy(csp)}


def for_site(directory: Path, storage_url: str | Sequence[str] = "") -> dict[str, str]:
    """The headers of the site built in `directory`: the web app has `config.json` (web/build.py),
    OHIF `obelisk-site.json` (devstack/ohif.py). Any other folder gets the framing headers."""
    if (directory / "config.json").exists():
        return web_app_headers(json.loads((directory / "config.json").read_text()), storage_url)
    if (directory / "obelisk-site.json").exists():
        site = json.loads((directory / "obelisk-site.json").read_text())
        return ohif_headers(site["api_url"], (directory / "index.html").read_text(), storage_url)
    return {**COMMON, "Content-Security-Policy": "frame-ancestors 'none'"}


def cloudfront_policy(site: str, content_security_policy: Any) -> dict[str, Any]:
    """The headers of `site` ("web" or "ohif") for HTTPS, as a CloudFront response-headers policy's
    `SecurityHeadersConfig` and `CustomHeadersConfig` (CloudFront takes the security headers only
    in the former). The Content-Security-Policy may be a CloudFormation value (a `Ref`)."""
    headers = {**SITES[site], **HTTPS_ONLY}
    security: dict[str, Any] = {
        "ContentSecurityPolicy": {"ContentSecurityPolicy": content_security_policy, "Override": True},
        "ContentTypeOptions": {"Override": True},
        "FrameOptions": {"FrameOption": headers.pop("X-Frame-Options"), "Override": True},
        "ReferrerPolicy": {"ReferrerPolicy": headers.pop("Referrer-Policy"), "Override": True},
        "StrictTransportSecurity": {"AccessControlMaxAgeSec": HSTS_SECONDS, "IncludeSubdomains": True,
                                    "Override": True},
    }
    assert headers.pop("X-Content-Type-Options") == "nosniff"  # CloudFront's only value
    assert headers.pop("Strict-Transport-Security") == HTTPS_ONLY["Strict-Transport-Security"]
    config: dict[str, Any] = {"SecurityHeadersConfig": security}
    if headers:
        config["CustomHeadersConfig"] = {"Items": [{"Header": name, "Value": value, "Override": True}
                                                   for name, value in headers.items()]}
    return config
