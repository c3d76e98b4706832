"""Delivery of a signed report to its site's return endpoint, with outbound safety: private,
loopback and link-local addresses are refused unless `settings().outbound_allowlist` names them."""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import requests

from chalicelib.config import settings

CONTENT_TYPES = {"HL7": "x-application/hl7-v2+er7", "FHIR": "application/fhir+json"}


def _allowed(host: str) -> bool:
    allowlist = [ipaddress.ip_network(n, strict=False) for n in settings().outbound_allowlist]
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror:
        return False
    for text in addresses:
        address = ipaddress.ip_address(text.split("%")[0])
        public = address.is_global and not address.is_multicast
        if not public and not any(address in network for network in allowlist):
            return False
    return bool(addresses)


def deliver(endpoint: str, return_format: str, payload: str) -> dict:
    """POSTs the payload; returns what happened (recorded on the report, never raised)."""
    if not endpoint:
        return {"delivered": False, "detail": "the site has no return endpoint"}
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname or not _allowed(parts.hostname):
        return {"delivered": False, "detail": "return endpoint refused by outbound policy"}
    try:
        response = requests.post(endpoint, data=payload.encode(), timeout=10, allow_redirects=False,
                                 headers={"Content-Type": CONTENT_TYPES.get(return_format, "text/plain")})
    except requests.RequestException as error:
        return {"delivered": False, "detail": f"delivery failed: {type(error).__name__}"}
    return {"delivered": 200 <= response.status_code < 300, "status": response.status_code}
