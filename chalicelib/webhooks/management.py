"""Album webhooks (docs/kheops-compatibility.md §12): create, list, read with trigger history, edit, delete,
trigger by hand. Album admins only; every change is recorded as a mutation."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from chalicelib import booleans, clock, outbound
from chalicelib.auth import policy
from chalicelib.auth.principals import Principal
from chalicelib.errors import BadFormParameter, SeriesNotFound, UserNotFound, WebhookNotFound
from chalicelib.events import mutations
from chalicelib.store import albums, shares
from chalicelib.store.items import get_or_none
from chalicelib.store.models import AlbumEvent, Webhook, WebhookTrigger, transact
from chalicelib.store.users import by_reference as find_user
from chalicelib.webhooks.fan_out import EVENTS, album_webhooks

MANUAL_EVENTS = ("new_series", "new_user")
LAST_TRIGGERS = 5


@dataclass
class WebhookChanges:
    """A PATCH, as the form gave it: None leaves a field as it is."""

    url: str | None = None
    name: str | None = None
    secret: str | None = None  # "" removes the secret
    enabled: str | None = None
    events: list[str] | None = None  # replaces the list; [""] clears it
    add_events: list[str] | None = None
    remove_events: list[str] | None = None


def authorize(principal: Principal, album_id: str) -> policy.AlbumAccess:
    policy.require_user_access(principal)
    return policy.require_album_permission(principal, album_id, policy.MANAGE_WEBHOOK)


def parse_events(values: list[str]) -> list[str]:
    events = []
    for value in values:
        event = value.strip().lower()
        if event == "":
            continue
        if event not in EVENTS:
            raise BadFormParameter(f"event must be one of {', '.join(EVENTS)}")
        if event not in events:
            events.append(event)
    return events


def parse_enabled(value: str | None, default: bool = True) -> bool:
    return booleans.parse(value, "enabled", default, BadFormParameter)


def _valid_url(url: str | None) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if not url or len(url) > 1024 or parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadFormParameter("url must be an http or https URL of at most 1024 characters")
    try:
        outbound.check_url(url)
    except outbound.OutboundRefused as error:
        raise BadFormParameter(f"url is not allowed: {error}") from error
    return url


def _valid_name(name: str | None) -> str:
    name = (name or "").strip()
    if not 1 <= len(name) <= 255:
        raise BadFormParameter("name must be 1 to 255 characters")
    return name


def _valid_secret(secret: str | None) -> str | None:
    if secret is not None and len(secret) > 1024:
        raise BadFormParameter("secret must be at most 1024 characters")
    return secret or None


def create(principal: Principal, album_id: str, *, url: str | None, name: str | None, secret: str | None,
           events: list[str], enabled: str | None = None) -> Webhook:
    authorize(principal, album_id)
    if secret == "":
        raise BadFormParameter("secret must be 1 to 1024 characters")
    webhook_id = clock.random_id(20)
    webhook = Webhook(
        *Webhook.key(album_id, webhook_id), webhook_id=webhook_id, album_id=album_id, name=_valid_name(name),
        url=_valid_url(url), secret=_valid_secret(secret), events=parse_events(events),
        enabled=parse_enabled(enabled),
        created_time=clock.local_iso(), number_of_triggers=0,
    )
    _save_with_event(webhook, _event(album_id, "CREATE_WEBHOOK", principal, webhook))
    return webhook


def history(principal: Principal, album_id: str, webhook_id: str, *, limit: int | None,
            offset: int) -> tuple[Webhook, list[tuple[WebhookTrigger, bool]]]:
    """The webhook and a page of its triggers, each with whether the caller may see the study it
    names (`policy.history_reader`: an admin added later sees no series it cannot read)."""
    shown = policy.history_reader(principal, authorize(principal, album_id))
    webhook = _webhook(album_id, webhook_id)

    def names_readable(trigger: WebhookTrigger) -> bool:
        study = trigger.study or {}
        return not study or shown(trigger.created_time, study["study_uid"],
                                  [s["series_uid"] for s in study.get("series") or []])

    return webhook, [(t, names_readable(t)) for t in triggers(webhook, limit=limit, offset=offset)]


def _webhook(album_id: str, webhook_id: str) -> Webhook:
    hook = get_or_none(Webhook, Webhook.key(album_id, webhook_id))
    if hook is None:
        raise WebhookNotFound("Webhook does not exist in this album")
    return hook


def list_webhooks(principal: Principal, album_id: str, *, url: str | None = None, limit: int | None = None,
                  offset: int = 0) -> tuple[list[Webhook], int]:
    authorize(principal, album_id)
    hooks = sorted(album_webhooks(album_id), key=lambda w: w.created_time, reverse=True)
    if url:
        hooks = [w for w in hooks if w.url == url]
    end = None if limit is None else offset + limit
    return hooks[offset:end], len(hooks)


def triggers(webhook: Webhook, *, limit: int | None = LAST_TRIGGERS, offset: int = 0) -> list[WebhookTrigger]:
    """The webhook's triggers, newest first: one Query (paged by DynamoDB as needed)."""
    found = albums.triggers_newest_first(webhook.album_id, webhook.webhook_id,
                                         limit=None if limit is None else offset + limit)
    return found[offset:]


def edit(principal: Principal, album_id: str, webhook_id: str, changes: WebhookChanges) -> Webhook:
    authorize(principal, album_id)
    if changes.events is not None and (changes.add_events is not None or changes.remove_events is not None):
        raise BadFormParameter("event cannot be combined with add_event or remove_event")
    replaced = None if changes.events is None else parse_events(changes.events)
    added, removed = parse_events(changes.add_events or []), parse_events(changes.remove_events or [])
    webhook = _webhook(album_id, webhook_id)
    actions = []
    if changes.url is not None:
        actions.append(Webhook.url.set(_valid_url(changes.url)))
    if changes.name is not None:
        actions.append(Webhook.name.set(_valid_name(changes.name)))
    if changes.secret is not None:
        secret = _valid_secret(changes.secret)
        actions.append(Webhook.secret.set(secret) if secret else Webhook.secret.remove())
    if changes.enabled is not None:
        actions.append(Webhook.enabled.set(parse_enabled(changes.enabled)))
    events = [e for e in (webhook.events or [] if replaced is None else replaced) if e not in removed]
    actions.append(Webhook.events.set(events + [e for e in added if e not in events]))
    event = _event(album_id, "EDIT_WEBHOOK", principal, webhook)
    with transact() as transaction:
        transaction.update(webhook, actions=actions, condition=Webhook.pk.exists())
        transaction.save(event)
    mutations.publish(event)
    return _webhook(album_id, webhook_id)


def delete(principal: Principal, album_id: str, webhook_id: str) -> None:
    """Removes the webhook and its history; deliveries still queued find it gone and stop."""
    authorize(principal, album_id)
    webhook = _webhook(album_id, webhook_id)
    event = _event(album_id, "DELETE_WEBHOOK", principal, webhook)
    with transact() as transaction:
        transaction.delete(webhook, condition=Webhook.pk.exists())
        transaction.save(event)
    mutations.publish(event)
    with WebhookTrigger.batch_write() as batch:
        for trigger in triggers(webhook, limit=None):
            batch.delete(trigger)


def trigger(principal: Principal, album_id: str, webhook_id: str, *, event: str, study_uid: str | None,
            series_uids: list[str], user: str | None) -> None:
    """Queues a manual trigger (new_series of series in the album, or new_user of a member)."""
    authorize(principal, album_id)
    webhook = _webhook(album_id, webhook_id)
    event = event.strip().lower()
    if event not in MANUAL_EVENTS:
        raise BadFormParameter("event must be new_series or new_user")
    if user and study_uid:
        raise BadFormParameter("user and StudyInstanceUID cannot be combined")
    details = {"webhook_id": webhook.webhook_id, "webhook_name": webhook.name, "event": event}
    if event == "new_series":
        if not study_uid or not series_uids:
            raise BadFormParameter("new_series needs StudyInstanceUID and at least one SeriesInstanceUID")
        held = {s.series_uid for s in shares.shares_in_album(album_id, study_uid)}
        if not set(series_uids) <= held:
            raise SeriesNotFound("Series does not exist in this album or you don't have access")
        record = mutations.mutation_event(album_id, "TRIGGER_WEBHOOK", principal, study_uid=study_uid,
                                          series_uids=sorted(set(series_uids)), details=details)
    else:
        if not user:
            raise BadFormParameter("new_user needs user")
        member = find_user(user)
        if shares.membership(album_id, member.sub) is None:
            raise UserNotFound("the user is not a member of this album")
        record = mutations.mutation_event(album_id, "TRIGGER_WEBHOOK", principal, target_sub=member.sub,
                                          details=details)
    mutations.record(record)


def _event(album_id: str, mutation_type: str, principal: Principal, webhook: Webhook) -> AlbumEvent:
    return mutations.mutation_event(album_id, mutation_type, principal,
                                    details={"webhook_id": webhook.webhook_id, "webhook_name": webhook.name})


def _save_with_event(webhook: Webhook, event: AlbumEvent) -> None:
    with transact() as transaction:
        transaction.save(webhook, condition=Webhook.pk.does_not_exist())
        transaction.save(event)
    mutations.publish(event)
