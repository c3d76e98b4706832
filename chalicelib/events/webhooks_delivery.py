"""Webhook delivery: one POST per deliveries-queue message, signed, recorded, retried with SQS
message delay, and parked in the deliveries dead-letter queue when every attempt failed.

Deliveries-queue message: `{"album_id", "webhook_id", "trigger_id", "trigger_sk", "event",
"attempt", "body"}`; `delete_album` deliveries carry `"target": {"url", "secret"}` instead of a
trigger (the webhook is gone by then). The body is fixed when the trigger is made, so every
attempt sends the same bytes. Delivery is at least once: attempt n is recorded with a condition
on the number of attempts already recorded, so a message that comes twice (a worker killed
mid-way, SQS redelivery) records once and schedules the next attempt once."""
from __future__ import annotations

import hashlib
import hmac
import json
import logging

import requests
from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import size

from chalicelib import clock, outbound
from chalicelib.config import settings
from chalicelib.store.aws import client, queue_url
from chalicelib.store.models import DeliveryAttempt, Webhook, WebhookTrigger

log = logging.getLogger(__name__)
CONNECTION_ERROR = -1


def max_attempts() -> int:
    return len(settings().webhook_retry_delays) + 1


def signature(secret: str, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of the exact body bytes, keyed with the secret's UTF-8 bytes."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def headers_for(message: dict, secret: str | None, body: bytes) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "X-Kheops-Event": message["event"],
        "X-Kheops-Attempt": f"{message['attempt']}/{max_attempts()}",
    }
    if message.get("trigger_id"):
        headers["X-Kheops-Delivery"] = message["trigger_id"]
    if secret:
        headers["X-Kheops-Signature"] = signature(secret, body)
    return headers


def enqueue(message: dict, delay_seconds: int = 0) -> None:
    client("sqs").send_message(QueueUrl=queue_url(settings().deliveries_queue), MessageBody=json.dumps(message),
                               DelaySeconds=max(0, min(int(delay_seconds), 900)))


def post(url: str, secret: str | None, message: dict) -> int:
    """One attempt: the HTTP status, or -1 when the target is refused or does not answer."""
    body = message["body"].encode("utf-8")
    try:
        status = outbound.post(url, data=body, headers=headers_for(message, secret, body)).status_code
    except (outbound.OutboundRefused, requests.RequestException) as error:
        log.info("webhook %s %s attempt %s to %s: %s", message["event"], message.get("trigger_id") or "-",
                 message["attempt"], url, error)
        return CONNECTION_ERROR
    log.info("webhook %s %s attempt %s to %s: HTTP %s", message["event"], message.get("trigger_id") or "-",
             message["attempt"], url, status)
    return status


def succeeded(status: int) -> bool:
    return 200 <= status < 300


def deliver(message: dict) -> None:
    """Handles one deliveries-queue message (the body of the SQS record)."""
    if not message.get("trigger_sk"):
        target = message["target"]
        _after_attempt(message, post(target["url"], target.get("secret"), message))
        return
    trigger = _trigger(message)
    if trigger is None or trigger.state != "pending":
        return
    attempt = int(message["attempt"])
    recorded = len(trigger.attempts or [])
    if recorded > attempt:
        return  # a stale copy: later attempts were already made
    if recorded == attempt:  # made and recorded before a crash: make sure the next is scheduled
        _after_attempt(message, int(trigger.attempts[-1].status))
        return
    try:
        webhook = Webhook.get(*Webhook.key(message["album_id"], message["webhook_id"]))
    except Webhook.DoesNotExist:
        return  # deleted since: nothing more to send
    status = post(webhook.url, webhook.secret, message)
    if _record(trigger, attempt, status):
        _after_attempt(message, status)


def _trigger(message: dict) -> WebhookTrigger | None:
    try:
        return WebhookTrigger.get(f"ALBUM#{message['album_id']}", message["trigger_sk"])
    except WebhookTrigger.DoesNotExist:
        return None


def _record(trigger: WebhookTrigger, attempt: int, status: int) -> bool:
    """Appends attempt n unless another worker already did; sets the final state."""
    state = "pass" if succeeded(status) else ("fail" if attempt >= max_attempts() else "pending")
    entry = DeliveryAttempt(attempt=attempt, status=status, time=clock.utc_iso())
    try:
        trigger.update(
            actions=[WebhookTrigger.attempts.set(WebhookTrigger.attempts.append([entry])),
                     WebhookTrigger.state.set(state)],
            condition=(size(WebhookTrigger.attempts) == attempt - 1),
        )
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _after_attempt(message: dict, status: int) -> None:
    attempt = int(message["attempt"])
    if succeeded(status):
        return
    if attempt < max_attempts():
        enqueue({**message, "attempt": attempt + 1}, settings().webhook_retry_delays[attempt - 1])
        return
    parked = {**message, "last_status": status, "failed_at": clock.utc_iso()}
    client("sqs").send_message(QueueUrl=queue_url(settings().deliveries_dlq), MessageBody=json.dumps(parked))
    log.warning("webhook delivery %s failed %s times; parked in the dead-letter queue",
                message.get("trigger_id") or message["event"], attempt)
