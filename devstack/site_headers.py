"""The security headers of the two static sites, in one place: the local static server
(`devstack/static_site.py`) sends them, and CloudFront's response-headers policies in AWS must
send the same values (`web_app_headers` / `ohif_headers` give them for a stage's URLs).

Neither site may be framed (`X-Frame-Options: DENY` and CSP `frame-ancestors 'none'`: a framed,
signed-in app can be clicked through by the page around it). Each Content-Security-Policy lets
the site reach only what it uses:
- the web app: its own files, the API, the identity provider (sign-in calls / hosted pages), the
  DICOM bucket (the API answers reads with 303 to presigned S3 URLs, large uploads PUT to one),
  form POSTs to the API whose launch answers redirect to OHIF;
- OHIF: its own files, the API (DICOMweb, OpenID Connect), the DICOM bucket (presigned frames),
  its web workers and WebAssembly codecs, and its inline start-up scripts by hash (computed from
  the built `index.html`).
`storage_url` is where presigned URLs point: the emulator locally, in AWS the bucket's
`https://{bucket}.s3.{region}.amazonaws.com` (and the S3 endpoint boto3 signs for)."""
from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
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


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def _origins(*urls: str) -> str:
    return " ".join(dict.fromkeys(o for o in map(origin, urls) if o))


def _tidy(policy: str) -> str:
    return re.sub(r" +;", ";", re.sub(r" +", " ", policy))


def web_app_headers(config: dict, storage_url: str = "") -> dict[str, str]:
    """The web app's headers for its `config.json` (API, sign-in endpoints, OHIF) and storage."""
    auth = config.get("auth") or {}
    identity = _origins(*(auth.get(k, "") for k in ("cognito_endpoint", "authorization_endpoint",
                                                    "token_endpoint", "logout_endpoint")))
    csp = WEB_APP_CSP.format(api=_origins(config.get("api_url", "")), identity=identity,
                             storage=_origins(storage_url), ohif=_origins(config.get("ohif_url", "")))
    return {**COMMON, "Content-Security-Policy": _tidy(csp)}


def inline_script_hashes(index_html: str) -> str:
    """CSP sources for the inline `<script>` blocks of a page (OHIF's start-up code)."""
    bodies = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", index_html, flags=re.S)
    return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'"
                    for b in bodies if b.strip())


def ohif_headers(api_url: str, index_html: str, storage_url: str = "") -> dict[str, str]:
    """OHIF's headers for the API it uses, storage, and its built `index.html`."""
    csp = OHIF_CSP.format(api=_origins(api_url), storage=_origins(storage_url),
                          inline_scripts=inline_script_hashes(index_html))
    return {**COMMON, **OHIF_ISOLATION, "Content-Security-Policy": _tidy(csp)}


def for_site(directory: Path, storage_url: str = "") -> dict[str, str]:
    """The headers of the site built in `directory`: the web app has `config.json` (web/build.py),
    OHIF `obelisk-site.json` (devstack/ohif.py). Any other folder gets the framing headers."""
    if (directory / "config.json").exists():
        return web_app_headers(json.loads((directory / "config.json").read_text()), storage_url)
    if (directory / "obelisk-site.json").exists():
        site = json.loads((directory / "obelisk-site.json").read_text())
        return ohif_headers(site["api_url"], (directory / "index.html").read_text(), storage_url)
    return {**COMMON, "Content-Security-Policy": "frame-ancestors 'none'"}
