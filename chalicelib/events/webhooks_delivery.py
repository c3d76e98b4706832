"""Webhook delivery: one signed POST per deliveries-queue message, with the retries, attempt
records and dead-letter parking of `chalicelib.events.deliveries`.

Deliveries-queue message: `{"album_id", "webhook_id", "trigger_id", "trigger_sk", "event",
"attempt", "body"}` (kind `webhook`, the default); `delete_album` deliveries carry
`"target": {"url", "secret"}` instead of a trigger (the webhook is gone by then). The body, the
URL and the secret are fixed when the trigger is made (the trigger keeps the URL and secret), so
every attempt sends the same bytes to the same receiver: editing the webhook's URL moves no
pending retry to the new one. The trigger is the attempt log."""
from __future__ import annotations

import hashlib
import hmac

from chalicelib.events import deliveries
from chalicelib.store.models import Webhook, WebhookTrigger

KIND = "webhook"


def signature(secret: str, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of the exact body bytes, keyed with the secret's UTF-8 bytes."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def headers_for(message: dict, secret: str | None, body: bytes) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "X-Kheops-Event": message["event"],
        "X-Kheops-Attempt": f"{message['attempt']}/{deliveries.max_attempts()}",
    }
    if message.get("trigger_id"):
        headers["X-Kheops-Delivery"] = message["trigger_id"]
    if secret:
        headers["X-Kheops-Signature"] = signature(secret, body)
    return headers


def enqueue(message: dict) -> None:
    """Queues the first attempt of a webhook delivery."""
    deliveries.enqueue({"kind": KIND, **message})


def post(url: str, secret: str | None, message: dict) -> int:
    body = message["body"].encode("utf-8")
    label = f"webhook {message['event']} {message.get('trigger_id') or '-'} attempt {message['attempt']}"
    return deliveries.post(url, body, headers_for(message, secret, body), label)


def deliver(message: dict) -> None:
    """Handles one webhook message of the deliveries queue (the body of the SQS record)."""
    if not message.get("trigger_sk"):
        target = message["target"]
        deliveries.after_attempt(message, post(target["url"], target.get("secret"), message))
        return

    trigger = _trigger(message)

    def send() -> int | None:
        if not _webhook_exists(message):
            return None  # deleted since: nothing more to send
        if not trigger.target_url:
            return None  # made before targets were pinned: never sent to the webhook's current URL
        return post(trigger.target_url, trigger.target_secret, message)

    deliveries.attempt(message, trigger, send)


def _webhook_exists(message: dict) -> bool:
    try:
        Webhook.get(*Webhook.key(message["album_id"], message["webhook_id"]))
        return True
    except Webhook.DoesNotExist:
        return False


def _trigger(message: dict) -> WebhookTrigger | None:
    try:
        return WebhookTrigger.get(f"ALBUM#{message['album_id']}", message["trigger_sk"])
    except WebhookTrigger.DoesNotExist:
        return None
