"""Album webhooks: `/albums/{album}/webhooks[/{id}[/trigger]]` (docs/kheops-compatibility.md §12)."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api import responses
from chalicelib.api.routing import form, paging, query_value, route
from chalicelib.errors import BadFormParameter
from chalicelib.events import deliveries
from chalicelib.store.models import Webhook, WebhookTrigger
from chalicelib.webhooks import management as webhooks

bp = Blueprint(__name__)
FORM = ["application/x-www-form-urlencoded"]


def _one(values: dict[str, list[str]], name: str) -> str | None:
    found = values.get(name)
    if not found:
        return None
    if len(found) > 1:
        raise BadFormParameter(f"{name} may be given once")
    return found[0]


def trigger_response(trigger: WebhookTrigger, with_study: bool = True) -> dict:
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


def webhook_response(webhook: Webhook, *, last: list[WebhookTrigger] | None = None,
                     history: list[tuple[WebhookTrigger, bool]] | None = None) -> dict:
    body = {"id": webhook.webhook_id, "url": webhook.url, "name": webhook.name, "use_secret": bool(webhook.secret),
            "events": list(webhook.events or []), "enabled": webhook.enabled,
            "number_of_triggers": int(webhook.number_of_triggers or 0)}
    if last is not None:
        body["last_triggers"] = [{"id": t.trigger_id, "status": t.state} for t in last]
    if history is not None:
        body["triggers"] = [trigger_response(t, with_study) for t, with_study in history]
    return body


@route(bp, "/albums/{album}/webhooks", methods=["POST"], linkable=False, content_types=FORM)
def create_webhook(caller, album):
    values = form(bp.current_request)
    webhook = webhooks.create(
        caller, album, url=_one(values, "url"), name=_one(values, "name"),
        secret=_one(values, "secret"), events=values.get("event", []), enabled=_one(values, "enabled"),
    )
    return responses.json_body(webhook_response(webhook, last=[]), status=201)


@route(bp, "/albums/{album}/webhooks", methods=["GET"], linkable=False)
def list_webhooks(caller, album):
    request = bp.current_request
    limit, offset = paging(request)
    found, total = webhooks.list_webhooks(caller, album, url=query_value(request, "url"),
                                          limit=limit, offset=offset)
    body = [webhook_response(w, last=webhooks.triggers(w)) for w in found]
    return responses.json_body(body, headers={"X-Total-Count": str(total)})


@route(bp, "/albums/{album}/webhooks/{webhook_id}", methods=["GET"], linkable=False)
def get_webhook(caller, album, webhook_id):
    request = bp.current_request
    limit, offset = paging(request)
    webhook, history = webhooks.history(caller, album, webhook_id, limit=limit, offset=offset)
    return responses.json_body(webhook_response(webhook, history=history),
                               headers={"X-Total-Count": str(int(webhook.number_of_triggers or 0))})


@route(bp, "/albums/{album}/webhooks/{webhook_id}", methods=["PATCH"], linkable=False, content_types=FORM)
def edit_webhook(caller, album, webhook_id):
    values = form(bp.current_request)
    changes = webhooks.WebhookChanges(
        url=_one(values, "url"), name=_one(values, "name"), secret=_one(values, "secret"),
        enabled=_one(values, "enabled"), events=values.get("event"),
        add_events=values.get("add_event"), remove_events=values.get("remove_event"),
    )
    webhook = webhooks.edit(caller, album, webhook_id, changes)
    return responses.json_body(webhook_response(webhook, last=webhooks.triggers(webhook)))


@route(bp, "/albums/{album}/webhooks/{webhook_id}", methods=["DELETE"], linkable=False)
def delete_webhook(caller, album, webhook_id):
    webhooks.delete(caller, album, webhook_id)
    return responses.no_content()


@route(bp, "/albums/{album}/webhooks/{webhook_id}/trigger", methods=["POST"], linkable=False, content_types=FORM)
def trigger_webhook(caller, album, webhook_id):
    values = form(bp.current_request)
    webhooks.trigger(
        caller, album, webhook_id, event=_one(values, "event") or "",
        study_uid=_one(values, "StudyInstanceUID"), series_uids=values.get("SeriesInstanceUID", []),
        user=_one(values, "user"),
    )
    return Response(body="", status_code=202)
