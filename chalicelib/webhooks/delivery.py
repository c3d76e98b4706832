"""Webhook delivery: one signed POST per deliveries-queue message, with the retries, attempt
records and dead-letter parking of `chalicelib.events.deliveries`.

Deliveries-queue message: `messages.WebhookDelivery` (kind `webhook`, the default); `delete_album`
deliveries carry `target` (`{"url", "secret"}`) instead of a trigger (the webhook is gone by then). The body, the
URL and the secret are fixed when the trigger is made (the trigger keeps the URL and secret), so
every attempt sends the same bytes to the same receiver: editing the webhook's URL moves no
pending retry to the new one. The trigger is the attempt log."""
from __future__ import annotations

import hashlib
import hmac

from chalicelib.events import deliveries
from chalicelib.events.messages import WebhookDelivery
from chalicelib.store import albums
from chalicelib.store.items import get_or_none
from chalicelib.store.models import Webhook, WebhookTrigger


def signature(secret: str, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of the exact body bytes, keyed with the secret's UTF-8 bytes."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def headers_for(message: WebhookDelivery, secret: str | None, body: bytes) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "X-Kheops-Event": message.event,
        "X-Kheops-Attempt": f"{message.attempt}/{deliveries.max_attempts()}",
    }
    if message.trigger_id:
        headers["X-Kheops-Delivery"] = message.trigger_id
    if secret:
        headers["X-Kheops-Signature"] = signature(secret, body)
    return headers


def enqueue(message: WebhookDelivery) -> None:
    """Queues the first attempt of a webhook delivery."""
    deliveries.enqueue(message)


def post(url: str, secret: str | None, message: WebhookDelivery) -> int:
    body = message.body.encode("utf-8")
    label = f"webhook {message.event} {message.trigger_id or '-'} attempt {message.attempt}"
    return deliveries.post(url, body, headers_for(message, secret, body), label)


def deliver(message: WebhookDelivery) -> None:
    """Handles one webhook message of the deliveries queue."""
    if not message.trigger_sk:
        target = message.target
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


def _webhook_exists(message: WebhookDelivery) -> bool:
    return get_or_none(Webhook, Webhook.key(message.album_id, message.webhook_id)) is not None


def _trigger(message: WebhookDelivery) -> WebhookTrigger | None:
    return albums.trigger_or_none(message.album_id, message.trigger_sk)
