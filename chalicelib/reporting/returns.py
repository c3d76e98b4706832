"""Return of a signed report to its site's endpoint (HL7 ORU or FHIR DiagnosticReport): queued at
signing, then POSTed by the deliveries function with the webhooks' retries and dead-letter
parking (`chalicelib.events.deliveries`), every attempt recorded on `REPORT#id / DELIVERY#n`.

Deliveries-queue message: `messages.ReportReturn` (`{"kind": "report_return", "report_id",
"version", "attempt"}`). It
carries no report content: each attempt reads the signed version's output, so a message parked
in the dead-letter queue holds no patient data."""
from __future__ import annotations

import json

from chalicelib import clock
from chalicelib.events import deliveries
from chalicelib.events.messages import ReportReturn
from chalicelib.store.items import get_or_none
from chalicelib.store.models import ReportDelivery, ReportVersion

CONTENT_TYPES = {"HL7": "x-application/hl7-v2+er7", "FHIR": "application/fhir+json"}


def planned(report_id: str, version: int, endpoint: str, return_format: str) -> ReportDelivery | None:
    """The attempt log of a version's return (unsaved; the signing transaction saves it), or None
    when the site has no endpoint."""
    if not endpoint:
        return None
    return ReportDelivery(*ReportDelivery.key(report_id, version), report_id=report_id, version=version,
                          return_format=return_format, endpoint=endpoint, created_time=clock.utc_iso())


def enqueue(delivery: ReportDelivery) -> None:
    """Queues the first attempt; signing returns without waiting for the site."""
    deliveries.enqueue(ReportReturn(report_id=delivery.report_id, version=int(delivery.version), attempt=1))


def payload(return_format: str, outputs: dict) -> bytes:
    text = outputs["hl7"] if return_format == "HL7" else json.dumps(outputs["fhir"])
    return text.encode("utf-8")


def deliver(message: ReportReturn) -> None:
    """Handles one report-return message of the deliveries queue."""
    delivery = _delivery(message.report_id, int(message.version))

    def send() -> int:
        version = ReportVersion.get(*ReportVersion.key(delivery.report_id, int(delivery.version)))
        headers = {"Content-Type": CONTENT_TYPES[delivery.return_format],
                   "X-Obelisk-Delivery": f"{delivery.report_id}-{int(delivery.version)}",
                   "X-Obelisk-Attempt": f"{message.attempt}/{deliveries.max_attempts()}"}
        label = f"report {delivery.report_id} v{int(delivery.version)} attempt {message.attempt}"
        return deliveries.post(delivery.endpoint, payload(delivery.return_format, version.outputs), headers, label)

    deliveries.attempt(message, delivery, send)


def _delivery(report_id: str, version: int) -> ReportDelivery | None:
    return get_or_none(ReportDelivery, ReportDelivery.key(report_id, version), consistent_read=True)


def delivery_of(report_id: str, version: int) -> ReportDelivery | None:
    """The delivery of signed version n's return (`serializers.reporting.delivery`); None before the
    first signing (nothing read) or when the site had no endpoint."""
    return _delivery(report_id, version) if version >= 1 else None
