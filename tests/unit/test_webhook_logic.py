"""Pure webhook logic: signatures, derived trigger ids, new_series contributions."""
from __future__ import annotations

import dataclasses
import hashlib
import hmac

from chalicelib.events.messages import AlbumChange, WebhookDelivery
from chalicelib.webhooks import debounce as webhooks_debounce
from chalicelib.webhooks import delivery as webhooks_delivery
from chalicelib.webhooks import fan_out as webhooks


def test_signature_is_lowercase_hex_hmac_sha256_of_the_exact_body():
    body = '{"album_id":"a","x":"é"}'.encode()
    expected = hmac.new(b"secret", body, hashlib.sha256).hexdigest()
    assert webhooks_delivery.signature("secret", body) == expected
    assert webhooks_delivery.signature("secret", body + b" ") != expected


def test_headers_carry_event_delivery_attempt_and_signature_only_with_a_secret():
    message = WebhookDelivery.from_wire({"album_id": "a", "webhook_id": "w", "body": "{}",
                                         "event": "new_user", "trigger_id": "t" * 30, "attempt": 2})
    signed = webhooks_delivery.headers_for(message, "k", b"{}")
    assert signed["X-Kheops-Event"] == "new_user" and signed["X-Kheops-Delivery"] == "t" * 30
    assert signed["X-Kheops-Attempt"] == "2/5" and signed["X-Kheops-Signature"] == webhooks_delivery.signature("k", b"{}")
    unsigned = webhooks_delivery.headers_for(dataclasses.replace(message, trigger_id=None), None, b"{}")
    assert "X-Kheops-Signature" not in unsigned and "X-Kheops-Delivery" not in unsigned


def test_trigger_ids_are_stable_per_origin_and_webhook():
    first = webhooks.derived_id("event-1", "hook-a")
    assert len(first) == 30 and first.isalnum()
    assert first == webhooks.derived_id("event-1", "hook-a")
    assert first != webhooks.derived_id("event-1", "hook-b") != webhooks.derived_id("event-2", "hook-a")


def test_contributions_add_up_per_series_and_repeat_harmlessly():
    imported = AlbumChange(event_id="e1", series_uids=["1.2"], details={"number_of_new_instances": 10})
    grown = AlbumChange(event_id="e2", series_uids=["1.2", "1.3"],
                        details={"number_of_new_instances": {"1.2": 30, "1.3": 4}})
    entries = webhooks_debounce.contributions_of(imported) | webhooks_debounce.contributions_of(grown)
    entries |= webhooks_debounce.contributions_of(imported)  # a redelivered message adds nothing
    assert webhooks_debounce.new_instances(entries) == {"1.2": 40, "1.3": 4}


def test_a_send_without_counts_reports_every_instance_of_the_series():
    sent = AlbumChange(event_id="e3", series_uids=["1.4"], details={"import_source": "send"})
    assert webhooks_debounce.new_instances(webhooks_debounce.contributions_of(sent)) == {"1.4": -1}


def test_groups_separate_import_sources_and_actors():
    upload = AlbumChange(actor_sub="alice", details={"import_source": "upload"})
    assert webhooks_debounce.group_of(upload) == webhooks_debounce.group_of(dataclasses.replace(upload))
    assert webhooks_debounce.group_of(upload) != webhooks_debounce.group_of(dataclasses.replace(upload, actor_sub="bob"))
    assert webhooks_debounce.group_of(upload)[1] != webhooks_debounce.group_of(
        dataclasses.replace(upload, details={"import_source": "send"}))[1]
