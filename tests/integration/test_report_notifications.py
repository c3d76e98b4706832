"""A report's status changes as album webhooks, and its return to the site's endpoint delivered with
the webhooks' retries and dead-letter queue: against the real local stack, its SQS event functions
run by the dev stack's pollers, receivers on loopback."""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import time

import pytest
import requests

from devstack.in_process import service_layer
from tests.integration.dicom_samples import load, part10
from tests.integration.webhook_receiver import Receiver, SilentReceiver, wait_until
from tests.support.reporting import configure_site, open_session, sign

SECRET = "report-status-secret"
FINDINGS = "Liver: 2 cm hypodense lesion in segment 6."
IMPRESSION = "New liver lesion, suspicious for metastasis."


@pytest.fixture(scope="module")
def backend(stack):
    """This test process reads the stack's deliveries dead-letter queue."""
    from chalicelib.store import aws

    with service_layer(stack):
        yield aws


def carol(tokens) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens('carol')}"}


def report_of(stack, tokens, report_id: str) -> dict:
    answer = requests.get(f"{stack.api_url}/reports/{report_id}", headers=carol(tokens), timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def returned(stack, tokens, report_id: str) -> dict:
    """The report once its return delivery is no longer pending."""
    def done():
        report = report_of(stack, tokens, report_id)
        return report if report["delivery"]["status"] != "pending" else None
    return wait_until(done, timeout=90)


def album_with_study(stack, tokens) -> tuple[str, str]:
    """(album id, study uid): a new album of carol's holding a new CT study."""
    album = requests.post(f"{stack.api_url}/albums", data={"name": "reading room"}, headers=carol(tokens), timeout=30)
    assert album.status_code == 201, album.text
    album_id, dataset = album.json()["album_id"], load("CT_small.dcm")
    boundary = "obeliskboundary"
    body = (f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + part10(dataset)
            + f"\r\n--{boundary}--\r\n".encode())
    stored = requests.post(f"{stack.api_url}/studies", params={"album": album_id}, data=body, timeout=60, headers={
        **carol(tokens), "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}'})
    assert stored.status_code == 200, stored.text
    return album_id, str(dataset.StudyInstanceUID)


def test_album_webhook_hears_draft_final_and_amended_signed_and_without_report_text(stack, tokens):
    hook_receiver = Receiver()
    try:
        album_id, study_uid = album_with_study(stack, tokens)
        hooks = f"{stack.api_url}/albums/{album_id}/webhooks"
        created = requests.post(hooks, headers=carol(tokens), timeout=30, data=[
            ("url", hook_receiver.url), ("name", "ris"), ("event", "REPORT_STATUS"), ("secret", SECRET)])
        assert created.status_code == 201, created.text
        assert created.json()["events"] == ["report_status"]
        configure_site(stack, tokens, "status-site")

        def heard(count: int):
            return wait_until(lambda: len(hook_receiver.of_event("report_status")) >= count
                              and hook_receiver.of_event("report_status"))

        report_id, session = open_session(stack, tokens, "status-site", "status-1", study_uid)
        heard(1)  # Draft, at launch
        final = sign(stack, session, FINDINGS, IMPRESSION)
        heard(2)
        amended = sign(stack, session, FINDINGS, IMPRESSION + " Addendum: unchanged.")
        deliveries = heard(3)
        time.sleep(2)
        assert len(hook_receiver.of_event("report_status")) == 3

        bodies = [d.json["report"] for d in deliveries]
        assert [(b["status"], b["version"]) for b in bodies] == [("Draft", 0), ("Final", 1), ("Amended", 2)]
        for delivery, signed in zip(deliveries[1:], (final, amended), strict=True):
            report = delivery.json["report"]
            assert report["sr_series_uid"] == signed["sr"]["seriesInstanceUID"]
            assert report["sr_instance_uid"] == signed["sr"]["sopInstanceUID"]
            assert report["status_time"] == signed["updatedAt"]
        assert bodies[0]["sr_series_uid"] is None and bodies[0]["sr_instance_uid"] is None
        for delivery in deliveries:
            headers, body = delivery.headers, delivery.json
            assert headers["X-Kheops-Signature"] == hmac.new(SECRET.encode(), delivery.body, hashlib.sha256).hexdigest()
            assert re.fullmatch(r"[A-Za-z0-9]{30}", headers["X-Kheops-Delivery"]) and headers["X-Kheops-Attempt"] == "1/5"
            assert body["album_id"] == album_id and body["is_manual_trigger"] is False
            assert body["source"]["email"] == "carol@example.org"
            assert {k: body["report"][k] for k in ("report_id", "site_id", "accession", "study_uid")} == {
                "report_id": report_id, "site_id": "status-site", "accession": "status-1", "study_uid": study_uid}
            assert body["report"]["report_url"] == f"{stack.api_url}/reports/{report_id}"
            assert b"Liver" not in delivery.body and b"metastasis" not in delivery.body  # no report text

        history = requests.get(f"{hooks}/{created.json()['id']}", headers=carol(tokens), timeout=30).json()
        triggers = sorted(history["triggers"], key=lambda t: t["report"]["version"])
        assert [(t["event"], t["status"], t["report"]) for t in triggers] == [
            ("report_status", "pass", {"report_id": report_id, "status": status, "version": version})
            for status, version in (("Draft", 0), ("Final", 1), ("Amended", 2))]
        assert [t["id"] for t in triggers] == [d.headers["X-Kheops-Delivery"] for d in deliveries]
        assert triggers[1]["study"]["series"] == [{"series_uid": final["sr"]["seriesInstanceUID"]}]
    finally:
        hook_receiver.close()


def test_a_return_endpoint_failing_twice_gets_the_oru_once_after_three_attempts(stack, tokens):
    ris = Receiver(answers=[503, 503])
    try:
        configure_site(stack, tokens, "retry-site", ris.url)
        report_id, session = open_session(stack, tokens, "retry-site", "retry-1")
        assert sign(stack, session, FINDINGS, IMPRESSION)["status"] == "Final"
        report = returned(stack, tokens, report_id)
        delivery = report["delivery"]
        assert (delivery["status"], delivery["format"], delivery["version"]) == ("pass", "HL7", 1)
        assert [(a["attempt"], a["status"]) for a in delivery["attempts"]] == [(1, 503), (2, 503), (3, 204)]
        time.sleep(3)  # no attempt after the success
        oru = requests.get(f"{stack.api_url}/reports/{report_id}/hl7", headers=carol(tokens), timeout=30).text
        assert [r.body for r in ris.received] == [oru.encode()] * 3
        assert [r.answered for r in ris.received] == [503, 503, 204]  # accepted exactly once
        assert [r.headers["X-Obelisk-Attempt"] for r in ris.received] == ["1/5", "2/5", "3/5"]
        assert {r.headers["X-Obelisk-Delivery"] for r in ris.received} == {f"{report_id}-1"}
        assert {r.headers["Content-Type"] for r in ris.received} == {"x-application/hl7-v2+er7"}
        assert report["status"] == "Final"
    finally:
        ris.close()


def test_a_return_endpoint_that_never_answers_ends_dead_lettered_and_the_report_stays_final(stack, tokens, backend):
    from chalicelib.config import settings

    silent = SilentReceiver()
    try:
        configure_site(stack, tokens, "dead-site", silent.url)
        report_id, session = open_session(stack, tokens, "dead-site", "dead-1")
        signed = sign(stack, session, FINDINGS, IMPRESSION)
        # signing answered before the first attempt (a 2 s read timeout here) was over
        assert (signed["status"], signed["delivery"]["status"], signed["delivery"]["attempts"]) == ("Final", "pending", [])
        report = returned(stack, tokens, report_id)
        assert report["delivery"]["status"] == "fail" and report["status"] == "Final"
        assert [(a["attempt"], a["status"]) for a in report["delivery"]["attempts"]] == [(n, -1) for n in range(1, 6)]
        assert len(silent.connections) == 5

        sqs, dlq = backend.client("sqs"), backend.queue_url(settings().deliveries_dlq)

        def parked():
            for message in sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                               VisibilityTimeout=0).get("Messages", []):
                body = json.loads(message["Body"])
                if body.get("report_id") == report_id:
                    return body
            return None
        body = wait_until(parked, timeout=30)
        assert body["kind"] == "report_return" and body["attempt"] == 5 and body["last_status"] == -1
        assert set(body) == {"kind", "report_id", "version", "attempt", "last_status", "failed_at"}  # no report content
    finally:
        silent.close()
