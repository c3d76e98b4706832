"""Queue messages (`chalicelib/events/messages.py`): each kind parses from the JSON the code sent
before the message classes existed (a message in flight during a deploy is still handled), goes
back to the same JSON, and is sent to its own queue by the one `send()`."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.events import messages
from chalicelib.events.messages import (
    AlbumChange,
    NewSeriesDue,
    Parked,
    ReportReturn,
    SeriesGrown,
    WebhookDelivery,
)
from chalicelib.webhooks import fan_out as webhooks

# Bodies exactly as the hand-built dicts of the previous code wrote them.
MUTATION = {"event_id": "e1", "album_id": "a1", "mutation_type": "ADD_USER", "post_date": "2026-01-01T00:00:00",
            "actor_sub": "alice", "capability": {"id": "c1", "title": "t"}, "report_provider": None,
            "study_uid": None, "series_uids": None, "target_sub": "bob", "details": None}
INSTANCES_ADDED = {"event_id": "e2", "album_id": "a1", "mutation_type": "INSTANCES_ADDED", "post_date": "p",
                   "actor_sub": "alice", "study_uid": "1.2", "series_uids": ["1.2.3"],
                   "details": {"import_source": "upload", "number_of_new_instances": {"1.2.3": 4}}}
DELETE_ALBUM = {"event_id": "e3", "album_id": "a1", "mutation_type": "DELETE_ALBUM", "post_date": "p",
                "actor_sub": "alice", "details": {"webhooks": [{"id": "w", "url": "http://x", "secret": None,
                                                                "events": ["delete_album"], "enabled": True}]}}
REPORT_STATUS = {"event_id": "e4", "album_id": "a1", "mutation_type": "REPORT_STATUS", "post_date": "p",
                 "actor_sub": "alice", "study_uid": "1.2", "details": {"report_id": "r", "status": "Final"}}
CHECK = {"mutation_type": "NEW_SERIES_DUE", "album_id": "a1", "study_uid": "1.2", "sk": "NEWSERIES#1.2#g",
         "generation": "gen", "version": 3}
WEBHOOK = {"kind": "webhook", "album_id": "a1", "webhook_id": "w", "trigger_id": "t" * 30,
           "trigger_sk": "TRIGGER#w#p#t", "event": "new_user", "attempt": 1, "body": "{}"}
WEBHOOK_BEFORE_KINDS = {k: v for k, v in WEBHOOK.items() if k != "kind"}
DELETE_DELIVERY = {"kind": "webhook", "album_id": "a1", "webhook_id": "w", "trigger_id": None, "trigger_sk": None,
                   "event": "delete_album", "attempt": 2, "body": "{}", "target": {"url": "http://x", "secret": "s"}}
REPORT_RETURN = {"kind": "report_return", "report_id": "r", "version": 2, "attempt": 1}
RENDITIONS = {"study": "1.2", "series": "1.2.3", "count": 5}


@pytest.mark.parametrize("body, queue, kind", [
    (MUTATION, messages.EVENTS, AlbumChange), (INSTANCES_ADDED, messages.EVENTS, AlbumChange),
    (DELETE_ALBUM, messages.EVENTS, AlbumChange), (REPORT_STATUS, messages.EVENTS, AlbumChange),
    (CHECK, messages.EVENTS, NewSeriesDue), (WEBHOOK, messages.DELIVERIES, WebhookDelivery),
    (WEBHOOK_BEFORE_KINDS, messages.DELIVERIES, WebhookDelivery), (DELETE_DELIVERY, messages.DELIVERIES, WebhookDelivery),
    (REPORT_RETURN, messages.DELIVERIES, ReportReturn), (RENDITIONS, messages.RENDITIONS, SeriesGrown),
])
def test_a_message_sent_by_the_previous_code_parses_as_its_kind_and_keeps_every_value(body, queue, kind):
    message = messages.parse(json.dumps(body), queue)
    assert type(message) is kind
    wire = message.to_wire()
    assert {k: v for k, v in wire.items() if k in body or v is not None} == {**body, **message.WIRE_TAG}


def test_the_previous_code_reads_what_the_new_code_sends():
    """Old handlers read with `message["x"]` / `.get("x")`: every field they read is there."""
    assert messages.parse(MUTATION).to_wire() == MUTATION
    assert NewSeriesDue.from_wire(CHECK).to_wire() == CHECK
    assert WebhookDelivery.from_wire(WEBHOOK).to_wire() == {**WEBHOOK, "target": None}
    assert ReportReturn.from_wire(REPORT_RETURN).to_wire() == REPORT_RETURN
    parked = Parked(ReportReturn.from_wire(REPORT_RETURN), last_status=500, failed_at="t").to_wire()
    assert parked == {**REPORT_RETURN, "last_status": 500, "failed_at": "t"}


def test_fields_a_message_does_not_know_are_ignored():
    assert messages.parse({**REPORT_RETURN, "added_later": 1}, messages.DELIVERIES) == ReportReturn("r", 2, 1)


def test_every_events_queue_type_the_webhooks_handle_has_a_handler_and_others_are_ignored():
    assert set(webhooks.HANDLERS) == {"IMPORT_SERIES", "IMPORT_STUDY", "INSTANCES_ADDED", "NEW_SERIES_DUE",
                                      "ADD_USER", "ADD_ADMIN", "REMOVE_SERIES", "REMOVE_STUDY", "DELETE_ALBUM",
                                      "TRIGGER_WEBHOOK", "REPORT_STATUS"}
    webhooks.fan_out(AlbumChange(album_id="a1", mutation_type="EDIT_ALBUM"))  # no handler, no AWS call


class _Sqs:
    def __init__(self):
        self.sent: list[dict] = []

    def send_message(self, **call):
        self.sent.append(call)


@pytest.mark.parametrize("message, queue", [
    (AlbumChange.from_wire(MUTATION), "events"), (NewSeriesDue.from_wire(CHECK), "events"),
    (WebhookDelivery.from_wire(WEBHOOK), "deliveries"), (ReportReturn.from_wire(REPORT_RETURN), "deliveries"),
    (Parked(ReportReturn.from_wire(REPORT_RETURN), 500, "t"), "deliveries-dlq"),
    (SeriesGrown.from_wire(RENDITIONS), "renditions"),
])
def test_send_puts_each_kind_on_its_queue(monkeypatch, message, queue):
    sqs = _Sqs()
    monkeypatch.setattr(messages, "client", lambda service: sqs)
    monkeypatch.setattr(messages, "queue_url", lambda name: f"url:{name}")
    messages.send(message, delay_seconds=1200)
    (call,) = sqs.sent
    assert call["QueueUrl"].startswith("url:") and call["QueueUrl"].endswith(f"-{queue}")
    assert json.loads(call["MessageBody"]) == message.to_wire() and call["DelaySeconds"] == 900
    messages.send(message)
    assert "DelaySeconds" not in sqs.sent[-1]


APP_FUNCTIONS = """
import json, sys, app
from chalicelib.events import messages
seen = []
app.webhook_fan_out.fan_out = lambda m: seen.append(type(m).__name__)
app.DELIVERIES[messages.WebhookDelivery] = lambda m: seen.append(type(m).__name__)
app.DELIVERIES[messages.ReportReturn] = lambda m: seen.append(type(m).__name__)
app.renditions.build_if_settled = lambda m: seen.append(type(m).__name__)
def event(body):
    return {"Records": [{"body": json.dumps(body), "receiptHandle": "r", "messageId": "m", "attributes": {},
                         "messageAttributes": {}, "eventSourceARN": "arn:aws:sqs:us-east-1:1:q"}]}
bodies = json.loads(sys.argv[1])
for function, body in bodies:
    getattr(app, function)(event(body), None)
print(json.dumps(seen))
"""


def test_the_app_s_sqs_functions_hand_each_queued_body_to_its_kind_s_handler():
    """What the deployed functions do with a message the previous deploy queued."""
    bodies = [("on_album_event", MUTATION), ("on_album_event", CHECK), ("on_delivery", WEBHOOK_BEFORE_KINDS),
              ("on_delivery", DELETE_DELIVERY), ("on_delivery", REPORT_RETURN), ("on_series_grown", RENDITIONS)]
    run = subprocess.run([sys.executable, "-c", APP_FUNCTIONS, json.dumps(bodies)], cwd=Path(__file__).parents[2],
                         capture_output=True, text=True, timeout=120,
                         env={"OBELISK_STAGE": "unit", "PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1"})
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == ["AlbumChange", "NewSeriesDue", "WebhookDelivery", "WebhookDelivery",
                                      "ReportReturn", "SeriesGrown"]
