"""Webhook fan-out: turns one events-queue message into one trigger (history item) and one
deliveries-queue message per matching webhook of the album.

Events-queue messages read here (`chalicelib.events.messages.AlbumChange` and `NewSeriesDue`,
dispatched on `mutation_type` by `HANDLERS`):
- `IMPORT_SERIES`, `IMPORT_STUDY`, queue-only `INSTANCES_ADDED` -> `new_series`, debounced
  (`webhooks.debounce`); `details.import_source` ("upload" | "send"),
  `details.number_of_new_instances` (an int, or a map series -> int).
- `ADD_USER`, `ADD_ADMIN` (`target_sub`) -> `new_user`.
- `REMOVE_SERIES` (`series_uids`), `REMOVE_STUDY` -> `remove_series`.
- `DELETE_ALBUM`: published by album deletion once the album's items are gone, so it carries
  them: `details.webhooks = [{"id", "url", "secret", "events", "enabled"}]` and optionally
  `details.actor_is_admin`. -> `delete_album` (no trigger id, not stored in history).
- `TRIGGER_WEBHOOK` (manual trigger): `details = {"webhook_id", "event"}` plus `study_uid` and
  `series_uids` (new_series) or `target_sub` (new_user).
- `REPORT_STATUS` (queue-only, `chalicelib.reporting.status_events`): `study_uid` and `details =
  {"report_id", "site_id", "accession", "status", "version", "time", "sr_series_uid",
  "sr_instance_uid"}` -> `report_status`.
Triggers have ids derived from the message that caused them, so a redelivered message finds
its triggers already made and only re-queues their first attempt (deduplicated at delivery)."""
from __future__ import annotations

import hashlib
import json
import string

from pynamodb.exceptions import TransactWriteError

from chalicelib.events.messages import NEW_SERIES_DUE, AlbumChange, NewSeriesDue, WebhookDelivery
from chalicelib.store import albums, shares
from chalicelib.store.items import get_or_none
from chalicelib.store.models import NewSeriesDispatch, Webhook, WebhookTrigger, transact
from chalicelib.webhooks import debounce, payloads
from chalicelib.webhooks.delivery import enqueue

EVENTS = ("new_series", "new_user", "remove_series", "delete_album", "report_status")
_ALPHANUMERIC = string.ascii_letters + string.digits


def derived_id(*parts: str, length: int = 30) -> str:
    """A `[A-Za-z0-9]{length}` id that is the same each time the same message is handled."""
    number = int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest(), "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(_ALPHANUMERIC))
        chars.append(_ALPHANUMERIC[index])
    return "".join(chars)


def album_webhooks(album_id: str) -> list[Webhook]:
    return albums.webhooks(album_id)


def subscribed(album_id: str, event: str) -> list[Webhook]:
    return [w for w in album_webhooks(album_id) if w.enabled and event in (w.events or [])]


def fan_out(message: AlbumChange | NewSeriesDue) -> None:
    """Handles one events-queue message (`messages.parse` of the SQS record's body); a type
    without a handler is no webhook's business."""
    kind = NEW_SERIES_DUE if isinstance(message, NewSeriesDue) else message.mutation_type
    handler = HANDLERS.get(kind)
    if handler is not None:
        handler(message)


def _collect(message: AlbumChange) -> None:
    if subscribed(message.album_id, "new_series"):  # most albums (inboxes) have none
        debounce.collect(message)


def _send_due(check: NewSeriesDue) -> None:
    dispatch = debounce.due_notification(check)
    if dispatch is not None:
        _send_new_series(dispatch)
        dispatch.delete()


def _send_new_series(dispatch: NewSeriesDispatch) -> None:
    hooks = subscribed(dispatch.album_id, "new_series")
    if not hooks:
        return
    gained = _still_held(dispatch.album_id, dispatch.study_uid, debounce.new_instances(dispatch.contributions))
    if not gained:
        return  # every series left the album during the quiet period
    body = payloads.new_series(dispatch.album_id, payloads.source_response(dispatch.album_id, dispatch.source or {}),
                               dispatch.study_uid, gained, import_source=dispatch.import_source)
    summary = {"study": payloads.study_summary(dispatch.study_uid, list(gained))}
    for hook in hooks:
        make_trigger(hook, "new_series", dispatch.sk, dispatch.created_time, body, summary)


def _still_held(album_id: str, study_uid: str, gained: dict[str, int]) -> dict[str, int]:
    """The series of a quiet period that the album still holds now, when the trigger is made: a
    series that came and went is announced to no one (not even to an admin who joined since)."""
    held = {share.series_uid for share in shares.shares_in_album(album_id, study_uid)}
    return {uid: count for uid, count in gained.items() if uid in held}


def _send_new_user(message: AlbumChange) -> None:
    hooks = subscribed(message.album_id, "new_user")
    if not hooks or not message.target_sub:
        return
    album_id = message.album_id
    user = payloads.album_user(message.target_sub, album_id,
                               is_admin=True if message.mutation_type == "ADD_ADMIN" else None)
    body = payloads.new_user(album_id, payloads.source_response(album_id, message.origin()), user)
    summary = {"user": {k: user[k] for k in ("email", "name", "sub")}}
    for hook in hooks:
        make_trigger(hook, "new_user", message.event_id, message.post_date, body, summary)


def _send_remove_series(message: AlbumChange) -> None:
    hooks = subscribed(message.album_id, "remove_series")
    if not hooks or not message.study_uid:
        return
    album_id, study_uid = message.album_id, message.study_uid
    series_uids = list(message.series_uids or [])
    body = payloads.remove_series(album_id, payloads.source_response(album_id, message.origin()),
                                  study_uid, series_uids, remove_all_series=message.mutation_type == "REMOVE_STUDY")
    summary = {"study": payloads.study_summary(study_uid, series_uids)}
    for hook in hooks:
        make_trigger(hook, "remove_series", message.event_id, message.post_date, body, summary)


def _send_report_status(message: AlbumChange) -> None:
    hooks = subscribed(message.album_id, "report_status")
    if not hooks:
        return
    album_id, details = message.album_id, message.details or {}
    source = payloads.source_response(album_id, message.origin())
    body = payloads.report_status(album_id, source, message.study_uid, details)
    series = [details["sr_series_uid"]] if details.get("sr_series_uid") else []
    summary = {"study": payloads.study_summary(message.study_uid, series),
               "report": {k: details.get(k) for k in ("report_id", "status", "version")}}
    for hook in hooks:
        make_trigger(hook, "report_status", message.event_id, message.post_date, body, summary)


def _send_delete_album(message: AlbumChange) -> None:
    details = message.details or {}
    source = payloads.source_response(message.album_id, message.origin(),
                                      is_admin=details.get("actor_is_admin", True))
    body = json.dumps(payloads.delete_album(message.album_id, source))
    for hook in details.get("webhooks") or []:
        if hook.get("enabled", True) and "delete_album" in (hook.get("events") or []):
            enqueue(WebhookDelivery(album_id=message.album_id, webhook_id=hook["id"], trigger_id=None,
                                    trigger_sk=None, event="delete_album", attempt=1, body=body,
                                    target={"url": hook["url"], "secret": hook.get("secret")}))


def _send_manual(message: AlbumChange) -> None:
    """A manual trigger goes to its one webhook, enabled or not, whatever its events."""
    details = message.details or {}
    album_id = message.album_id
    hook = get_or_none(Webhook, Webhook.key(album_id, details["webhook_id"]))
    if hook is None:
        return
    source = payloads.source_response(album_id, message.origin())
    if details.get("event") == "new_user":
        user = payloads.album_user(message.target_sub, album_id)
        body = payloads.new_user(album_id, source, user, is_manual_trigger=True)
        summary = {"user": {k: user[k] for k in ("email", "name", "sub")}}
    else:
        series_uids = list(message.series_uids or [])
        body = payloads.new_series(album_id, source, message.study_uid, {uid: -1 for uid in series_uids},
                                   import_source=None, is_manual_trigger=True)
        summary = {"study": payloads.study_summary(message.study_uid, series_uids)}
    make_trigger(hook, details.get("event", "new_series"), message.event_id, message.post_date, body,
                 summary, manual=True)


# The events-queue message types that concern webhooks, and what each becomes.
HANDLERS = {
    **{kind: _collect for kind in debounce.COLLECTED},
    NEW_SERIES_DUE: _send_due,
    "ADD_USER": _send_new_user, "ADD_ADMIN": _send_new_user,
    "REMOVE_SERIES": _send_remove_series, "REMOVE_STUDY": _send_remove_series,
    "DELETE_ALBUM": _send_delete_album,
    "TRIGGER_WEBHOOK": _send_manual,
    "REPORT_STATUS": _send_report_status,
}


def make_trigger(hook: Webhook, event: str, origin: str, created_time: str, body: dict, summary: dict, *,
                 manual: bool = False) -> None:
    """Saves the trigger (once per origin and webhook), counts it, and queues its first attempt."""
    trigger_id = derived_id(origin, hook.webhook_id)
    trigger = WebhookTrigger(
        *WebhookTrigger.key(hook.album_id, hook.webhook_id, created_time, trigger_id), trigger_id=trigger_id,
        webhook_id=hook.webhook_id, album_id=hook.album_id, event=event, is_manual_trigger=manual,
        created_time=created_time, study=summary.get("study"), user=summary.get("user"),
        report=summary.get("report"), attempts=[], state="pending",
        target_url=hook.url, target_secret=hook.secret,  # pinned: a later URL change moves no retry
    )
    try:
        with transact() as transaction:
            transaction.save(trigger, condition=WebhookTrigger.pk.does_not_exist())
            transaction.update(hook, actions=[Webhook.number_of_triggers.add(1)], condition=Webhook.pk.exists())
    except TransactWriteError:
        if not _exists(trigger):
            if not _exists(hook):
                return  # the webhook was deleted meanwhile
            raise  # throttled or failed: the message comes back and tries again
    enqueue(WebhookDelivery(album_id=hook.album_id, webhook_id=hook.webhook_id, trigger_id=trigger_id,
                            trigger_sk=trigger.sk, event=event, attempt=1, body=json.dumps(body)))


def _exists(item: WebhookTrigger | Webhook) -> bool:
    return get_or_none(type(item), (item.pk, item.sk)) is not None
