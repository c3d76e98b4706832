"""An album event as KHEOPS answers it (EventResponse, docs/kheops-compatibility.md §7)."""
from __future__ import annotations

from collections.abc import Mapping

from chalicelib.serializers import users
from chalicelib.store.models import AlbumEvent, UserProfile


def event(event: AlbumEvent, profiles: Mapping[str, UserProfile], members: set[str]) -> dict:
    """KHEOPS's EventResponse; each person carries `can_access`: still a member of the album."""
    def person(sub):
        body = users.user_or_sub(profiles, sub)
        return {**body, "can_access": sub in members}

    body = {"event_type": event.event_type, "post_date": event.post_date}
    if event.actor_sub:
        body["source"] = person(event.actor_sub)
        if event.capability:
            body["source"]["capability_token"] = event.capability
        if event.report_provider:
            body["source"]["report_provider"] = event.report_provider
    if event.event_type == "Comment":
        body.update(comment=event.comment, is_private=bool(event.is_private))
    else:
        body["mutation_type"] = event.mutation_type
        if event.study_uid:
            body["study"] = {"UID": event.study_uid, "series": [{"UID": s} for s in event.series_uids or []]}
        if (event.details or {}).get("report_provider"):
            body["report_provider"] = event.details["report_provider"]
    if event.target_sub:
        body["target"] = person(event.target_sub)
    return body
