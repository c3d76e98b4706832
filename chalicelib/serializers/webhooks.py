"""An album webhook and its triggers as KHEOPS answers them (docs/kheops-compatibility.md §12, docs/webhooks.md)."""
from __future__ import annotations

from chalicelib.events import deliveries
from chalicelib.store.models import Webhook, WebhookTrigger


def trigger(trigger: WebhookTrigger, with_study: bool = True) -> dict:
    """`with_study` false: the caller may not see the study the trigger names (docs/webhooks.md)."""
    body = {"id": trigger.trigger_id, "is_manual_trigger": trigger.is_manual_trigger, "event": trigger.event,
            "status": trigger.state,  # pass | fail | pending (retries remain)
            "attempts": deliveries.attempts_json(trigger)}
    if trigger.study and with_study:
        body["study"] = trigger.study
    if trigger.user:
        body["user"] = trigger.user
    if trigger.report:
        body["report"] = trigger.report
    return body


def webhook(webhook: Webhook, *, last: list[WebhookTrigger] | None = None,
                     history: list[tuple[WebhookTrigger, bool]] | None = None) -> dict:
    body = {"id": webhook.webhook_id, "url": webhook.url, "name": webhook.name, "use_secret": bool(webhook.secret),
            "events": list(webhook.events or []), "enabled": webhook.enabled,
            "number_of_triggers": int(webhook.number_of_triggers or 0)}
    if last is not None:
        body["last_triggers"] = [{"id": t.trigger_id, "status": t.state} for t in last]
    if history is not None:
        body["triggers"] = [trigger(t, with_study) for t, with_study in history]
    return body
