"""Recording album mutations and publishing them to the events queue.

The contract with the webhook functions is the events-queue message `messages.AlbumChange`
(`message_of`).
Callers that change several items put `event` into their own transaction, then call `publish`;
an event saved but not yet published keeps `unpublished` set, so a sweep can send it later."""
from __future__ import annotations

from chalicelib import clock
from chalicelib.auth.principals import ALBUM_CAPABILITY, REPORT_PROVIDER, USER_CAPABILITY, Principal
from chalicelib.events import messages
from chalicelib.events.messages import AlbumChange
from chalicelib.store.models import AlbumEvent

MUTATION_TYPES = (
    "ADD_USER", "ADD_ADMIN", "REMOVE_USER", "PROMOTE_ADMIN", "DEMOTE_ADMIN", "CREATE_ALBUM",
    "LEAVE_ALBUM", "IMPORT_STUDY", "IMPORT_SERIES", "REMOVE_STUDY", "REMOVE_SERIES", "EDIT_ALBUM",
    "ADD_FAV", "REMOVE_FAV", "CREATE_REPORT_PROVIDER", "EDIT_REPORT_PROVIDER", "DELETE_REPORT_PROVIDER",
    "CREATE_WEBHOOK", "DELETE_WEBHOOK", "EDIT_WEBHOOK", "TRIGGER_WEBHOOK",
)


def mutation_event(album_id: str, mutation_type: str, principal: Principal | None, *,
                   study_uid: str | None = None, series_uids: list[str] | None = None,
                   target_sub: str | None = None, details: dict | None = None) -> AlbumEvent:
    """A new, unsaved mutation event with its source (user, capability token or provider)."""
    if mutation_type not in MUTATION_TYPES:
        raise ValueError(f"unknown mutation type {mutation_type}")
    post_date = clock.local_iso()
    event_id = clock.random_id(16)
    capability = report_provider = None
    if principal is not None and principal.kind in (ALBUM_CAPABILITY, USER_CAPABILITY) and principal.capability_id:
        capability = {"id": principal.capability_id, "title": principal.capability_title or ""}
    if principal is not None and principal.kind == REPORT_PROVIDER and principal.client_id:
        report_provider = {"client_id": principal.client_id, "name": (details or {}).get("provider_name", "")}
    return AlbumEvent(
        *AlbumEvent.key(album_id, post_date, event_id), event_id=event_id, album_id=album_id,
        event_type="Mutation", mutation_type=mutation_type, post_date=post_date,
        actor_sub=principal.sub if principal else None, capability=capability,
        report_provider=report_provider, study_uid=study_uid, series_uids=series_uids,
        target_sub=target_sub, details=details, unpublished=True,
    )


def message_of(event: AlbumEvent) -> AlbumChange:
    return AlbumChange(
        event_id=event.event_id, album_id=event.album_id, mutation_type=event.mutation_type,
        post_date=event.post_date, actor_sub=event.actor_sub, capability=event.capability,
        report_provider=event.report_provider, study_uid=event.study_uid,
        series_uids=event.series_uids, target_sub=event.target_sub, details=event.details,
    )


def publish(event: AlbumEvent) -> None:
    """Sends the event to the events queue, then clears `unpublished`."""
    messages.send(message_of(event))
    event.update(actions=[AlbumEvent.unpublished.remove()])


def record(event: AlbumEvent) -> AlbumEvent:
    """Saves a mutation event that is not part of a larger transaction, and publishes it."""
    event.save()
    publish(event)
    return event


def import_series(album_id: str, principal: Principal, study_uid: str, new_instances: dict[str, int],
                  new_series: set[str], import_source: str = "upload") -> None:
    """After instances reach an album (STOW, share): see `import_studies`, for one study."""
    import_studies(album_id, principal, {study_uid: (new_instances, new_series)}, import_source)


def import_studies(album_id: str, principal: Principal, imports: dict[str, tuple[dict[str, int], set[str]]],
                   import_source: str = "upload") -> None:
    """After instances reach an album (STOW, share), per study: one `IMPORT_SERIES` event per series
    new to the album (history and queue), and one queue-only `INSTANCES_ADDED` message for
    instances added to series the album already held, so that the debounced `new_series` webhook
    keeps waiting. `imports` maps each study to (instances gained per touched series, the series
    new to the album). The events are saved, sent and marked published in batches."""
    events: list[AlbumEvent] = []
    queue_only: list[AlbumChange] = []
    for study_uid, (new_instances, new_series) in imports.items():
        events += [mutation_event(
            album_id, "IMPORT_SERIES", principal, study_uid=study_uid, series_uids=[series_uid],
            details={"import_source": import_source, "number_of_new_instances": new_instances.get(series_uid, 0)},
        ) for series_uid in sorted(new_series)]
        grown = {s: n for s, n in new_instances.items() if s not in new_series and n}
        if grown:
            queue_only.append(AlbumChange(
                event_id=clock.random_id(16), album_id=album_id, mutation_type="INSTANCES_ADDED",
                post_date=clock.local_iso(), actor_sub=principal.sub, study_uid=study_uid,
                series_uids=sorted(grown), details={"import_source": import_source, "number_of_new_instances": grown},
            ))
    record_all(events, queue_only)


def record_all(events: list[AlbumEvent], queue_only: list[AlbumChange] = ()) -> None:
    """Saves mutation events, sends them (and queue-only changes) ten per SQS request, then
    clears `unpublished` on those sent."""
    with AlbumEvent.batch_write() as batch:
        for event in events:
            batch.save(event)
    accepted = messages.send_batch([message_of(event) for event in events] + list(queue_only))
    sent = [event for event, ok in zip(events, accepted[:len(events)], strict=True) if ok]
    with AlbumEvent.batch_write() as batch:
        for event in sent:
            event.unpublished = None
            batch.save(event)
