"""An album's history: comments and mutations, newest first (docs/kheops-compatibility.md §7)."""
from __future__ import annotations

from chalicelib import clock
from chalicelib.auth import policy
from chalicelib.auth.principals import Principal
from chalicelib.errors import BadFormParameter, BadQueryParameter, UserNotFound
from chalicelib.serializers import events as event_json
from chalicelib.services import users
from chalicelib.store import albums, shares
from chalicelib.store.models import Album, AlbumEvent

FAMILIES = {
    "webhooks": {"CREATE_WEBHOOK", "DELETE_WEBHOOK", "EDIT_WEBHOOK", "TRIGGER_WEBHOOK"},
    "sending": {"IMPORT_STUDY", "IMPORT_SERIES", "REMOVE_STUDY", "REMOVE_SERIES"},
    "users": {"ADD_USER", "ADD_ADMIN", "REMOVE_USER", "PROMOTE_ADMIN", "DEMOTE_ADMIN", "LEAVE_ALBUM"},
    "report_provider": {"CREATE_REPORT_PROVIDER", "EDIT_REPORT_PROVIDER", "DELETE_REPORT_PROVIDER"},
}


def post_comment(principal: Principal, album_id: str, comment: str | None, to_user: str | None) -> None:
    policy.require_user_access(principal)
    policy.require_album_permission(principal, album_id, policy.WRITE_COMMENT)
    if not comment or len(comment) > 1024:
        raise BadFormParameter("comment must be 1 to 1024 characters")
    target = None
    if to_user:
        target = users.find_user(to_user)
        if shares.membership(album_id, target.sub) is None:
            raise UserNotFound("the user is not a member of this album")
    moment = clock.local_iso()
    event_id = clock.random_id(16)
    AlbumEvent(*AlbumEvent.key(album_id, moment, event_id), event_id=event_id, album_id=album_id,
               event_type="Comment", post_date=moment, actor_sub=principal.sub, comment=comment,
               is_private=target is not None, target_sub=target.sub if target else None).save()
    if target is None:
        Album(*Album.key(album_id)).update(actions=[Album.last_event_time.set(moment)], condition=Album.pk.exists())


def _wanted(event: AlbumEvent, params: dict[str, list[str]]) -> bool:
    types = set(params.get("types") or [])
    if types - {"comments", "mutations"}:
        raise BadQueryParameter("types is comments or mutations")
    if types == {"comments"} and event.event_type != "Comment":
        return False
    if types == {"mutations"} and event.event_type != "Mutation":
        return False
    if event.event_type == "Mutation":
        kinds = set(params.get("type") or [])
        for family in params.get("family") or []:
            if family not in FAMILIES:
                raise BadQueryParameter(f"unknown family {family}")
            kinds |= FAMILIES[family]
        if kinds and event.mutation_type not in kinds:
            return False
        if params.get("studies") and event.study_uid not in params["studies"]:
            return False
    return True


def list_events(principal: Principal, album_id: str, params: dict[str, list[str]]) -> list[dict]:
    policy.require_user_access(principal)
    access = policy.require_album_permission(principal, album_id, policy.READ_COMMENT)
    visible = policy.event_reader(principal, access)
    found = [e for e in albums.events_newest_first(album_id) if _wanted(e, params) and visible(e)]
    profiles = {u.sub: u for u in users.get_users([s for e in found for s in (e.actor_sub, e.target_sub) if s])}
    members = albums.member_subs(album_id)
    return [event_json.event(e, profiles, members) for e in found]


