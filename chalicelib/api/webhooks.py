"""Album webhooks: `/albums/{album}/webhooks[/{id}[/trigger]]` (docs/kheops-compatibility.md §12)."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api import responses
from chalicelib.api.routing import FORM, form, form_value, paging, query_value, route
from chalicelib.serializers import webhooks as webhook_json
from chalicelib.webhooks import management as webhooks

bp = Blueprint(__name__)


@route(bp, "/albums/{album}/webhooks", methods=["POST"], linkable=False, content_types=FORM)
def create_webhook(caller, album):
    values = form(bp.current_request)
    webhook = webhooks.create(
        caller, album, url=form_value(values, "url"), name=form_value(values, "name"),
        secret=form_value(values, "secret"), events=values.get("event", []), enabled=form_value(values, "enabled"),
    )
    return responses.json_body(webhook_json.webhook(webhook, last=[]), status=201)


@route(bp, "/albums/{album}/webhooks", methods=["GET"], linkable=False)
def list_webhooks(caller, album):
    request = bp.current_request
    limit, offset = paging(request)
    found, total = webhooks.list_webhooks(caller, album, url=query_value(request, "url"),
                                          limit=limit, offset=offset)
    body = [webhook_json.webhook(w, last=webhooks.triggers(w)) for w in found]
    return responses.json_body(body, headers={"X-Total-Count": str(total)})


@route(bp, "/albums/{album}/webhooks/{webhook_id}", methods=["GET"], linkable=False)
def get_webhook(caller, album, webhook_id):
    request = bp.current_request
    limit, offset = paging(request)
    webhook, history = webhooks.history(caller, album, webhook_id, limit=limit, offset=offset)
    return responses.json_body(webhook_json.webhook(webhook, history=history),
                               headers={"X-Total-Count": str(int(webhook.number_of_triggers or 0))})


@route(bp, "/albums/{album}/webhooks/{webhook_id}", methods=["PATCH"], linkable=False, content_types=FORM)
def edit_webhook(caller, album, webhook_id):
    values = form(bp.current_request)
    changes = webhooks.WebhookChanges(
        url=form_value(values, "url"), name=form_value(values, "name"), secret=form_value(values, "secret"),
        enabled=form_value(values, "enabled"), events=values.get("event"),
        add_events=values.get("add_event"), remove_events=values.get("remove_event"),
    )
    webhook = webhooks.edit(caller, album, webhook_id, changes)
    return responses.json_body(webhook_json.webhook(webhook, last=webhooks.triggers(webhook)))


@route(bp, "/albums/{album}/webhooks/{webhook_id}", methods=["DELETE"], linkable=False)
def delete_webhook(caller, album, webhook_id):
    webhooks.delete(caller, album, webhook_id)
    return responses.no_content()


@route(bp, "/albums/{album}/webhooks/{webhook_id}/trigger", methods=["POST"], linkable=False, content_types=FORM)
def trigger_webhook(caller, album, webhook_id):
    values = form(bp.current_request)
    webhooks.trigger(
        caller, album, webhook_id, event=form_value(values, "event") or "",
        study_uid=form_value(values, "StudyInstanceUID"), series_uids=values.get("SeriesInstanceUID", []),
        user=form_value(values, "user"),
    )
    return Response(body="", status_code=202)
