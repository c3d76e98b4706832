"""Delivery of a signed report to its site's return endpoint, through `chalicelib.outbound`
(public addresses, or the allow-list, only; short timeouts; no redirects)."""
from __future__ import annotations

import requests

from chalicelib import outbound

CONTENT_TYPES = {"HL7": "x-application/hl7-v2+er7", "FHIR": "application/fhir+json"}


def deliver(endpoint: str, return_format: str, payload: str) -> dict:
    """POSTs the payload; returns what happened (recorded on the report, never raised)."""
    if not endpoint:
        return {"delivered": False, "detail": "the site has no return endpoint"}
    try:
        response = outbound.post(endpoint, data=payload.encode(),
                                 headers={"Content-Type": CONTENT_TYPES.get(return_format, "text/plain")})
    except outbound.OutboundRefused as refusal:
        return {"delivered": False, "detail": f"return endpoint refused by outbound policy: {refusal}"}
    except requests.RequestException as error:
        return {"delivered": False, "detail": f"delivery failed: {type(error).__name__}"}
    return {"delivered": 200 <= response.status_code < 300, "status": response.status_code}
