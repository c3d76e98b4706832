"""Sharing studies and series between inboxes and albums (kheops-api.md 3.3).

A series leaves where the caller reads it (to a user, to an album) only through an album granting
SEND_SERIES (`policy.may_send_series`; the caller's inbox always does): a series seen only in
albums with `sendSeries` off cannot be copied out of them (KHEOPS quirk 5, fixed for every path)."""
from __future__ import annotations

from chalicelib.auth import policy
from chalicelib.auth.principals import Principal
from chalicelib.dicom import json_model
from chalicelib.errors import BadQueryParameter, SeriesNotFound, StudyNotFound
from chalicelib.events import mutations
from chalicelib.services import users
from chalicelib.store import identity, shares
from chalicelib.store.models import SeriesRecord


def _copy(principal: Principal, study_uid: str, series_uids: list[str], target_album: str, is_inbox: bool) -> int:
    records = {r.series_uid: r for r in SeriesRecord.batch_get([SeriesRecord.key(study_uid, s) for s in series_uids])}
    identities = identity.of_series(list(records.values()))  # each series keeps its own identity
    added = {s for s in series_uids if s in records and shares.add_series(
        target_album, study_uid, s, identities[(study_uid, s)], json_model.text_value(records[s].attributes, "Modality"))}
    if added and not is_inbox:
        counts = {s: int(records[s].instance_count) for s in added}
        mutations.import_series(target_album, principal, study_uid, counts, added, import_source="send")
    return len(added)


def _source(principal: Principal, album: str | None, inbox: str | None) -> policy.Source:
    if principal.kind in policy.ALBUM_SCOPED:
        if inbox is not None:
            raise BadQueryParameter("an album token has no inbox")
        return policy.Source(album_id=album or principal.album_id)
    if (album is None) == (inbox is None):
        raise BadQueryParameter("give exactly one of album and inbox")
    return policy.parse_source(album, inbox)


def _sendable_series(principal: Principal, study_uid: str, source: policy.Source) -> list[str]:
    if source.album_id:
        policy.require_album_permission(principal, source.album_id, policy.SEND_SERIES)
    visible = policy.readable_series(principal, study_uid, source)
    if not visible:
        raise StudyNotFound("Study does not exist or you don't have access")
    return sorted(visible)


def share_study_with_user(principal: Principal, study_uid: str, reference: str,
                          album: str | None, inbox: str | None) -> None:
    """`PUT /studies/{s}/users/{user}`: the study's series from the source to the user's inbox."""
    source = _source(principal, album, inbox)
    series = _sendable_series(principal, study_uid, source)
    policy.require_action(principal, policy.SEND)
    target = users.find_user(reference)
    _copy(principal, study_uid, series, target.inbox_id, is_inbox=True)


def share_series_with_user(principal: Principal, study_uid: str, series_uid: str, reference: str) -> None:
    policy.authorize_series_send(principal, study_uid, series_uid)
    target = users.find_user(reference)
    _copy(principal, study_uid, [series_uid], target.inbox_id, is_inbox=True)


def add_series_to_album(principal: Principal, study_uid: str, series_uid: str, album_id: str) -> None:
    policy.require_user_access(principal)
    policy.require_action(principal, policy.SEND)
    policy.require_album_permission(principal, album_id, policy.ADD_SERIES)
    policy.authorize_series_send(principal, study_uid, series_uid)
    _copy(principal, study_uid, [series_uid], album_id, is_inbox=False)


def add_study_to_album(principal: Principal, study_uid: str, album_id: str, album: str | None,
                       inbox: str | None) -> None:
    """`PUT /studies/{s}/albums/{album}`: album (or inbox) to album."""
    policy.require_user_access(principal)
    policy.require_action(principal, policy.SEND)
    source = _source(principal, album, inbox)
    policy.require_album_permission(principal, album_id, policy.ADD_SERIES)
    series = _sendable_series(principal, study_uid, source)
    _copy(principal, study_uid, series, album_id, is_inbox=False)


def remove_from_album(principal: Principal, study_uid: str, series_uid: str | None, album_id: str) -> None:
    """`DELETE /studies/{s}[/series/{se}]/albums/{album}`."""
    access = policy.require_album_permission(principal, album_id, policy.DELETE_SERIES)
    held = [s for s in shares.shares_in_album(album_id, study_uid) if series_uid in (None, s.series_uid)]
    if not held:
        raise (SeriesNotFound if series_uid else StudyNotFound)("not in this album")
    for share in held:
        shares.remove_series(share)
    if not access.album.is_inbox:
        kind = "REMOVE_SERIES" if series_uid else "REMOVE_STUDY"
        remaining = bool(shares.shares_in_album(album_id, study_uid))
        mutations.record(mutations.mutation_event(
            album_id, kind, principal, study_uid=study_uid, series_uids=[s.series_uid for s in held],
            details={"remove_all_series": not remaining}))


def remove(principal: Principal, study_uid: str, series_uid: str | None) -> None:
    """`DELETE /studies/{s}[/series/{se}]`: a user removes from their inbox; an album-scoped token
    from its album. Not visible: 404; visible but not deletable: 403."""
    if principal.kind in policy.ALBUM_SCOPED:
        visible = policy.readable_series(principal, study_uid)
        if not visible or (series_uid and series_uid not in visible):
            raise (SeriesNotFound if series_uid else StudyNotFound)("not visible")
        policy.require_album_permission(principal, principal.album_id, policy.DELETE_SERIES)
        remove_from_album(principal, study_uid, series_uid, principal.album_id)
        return
    policy.require_action(principal, policy.CHANGE)
    inbox = principal.user.inbox_id
    held = [s for s in shares.shares_in_album(inbox, study_uid) if series_uid in (None, s.series_uid)]
    if not held:
        raise (SeriesNotFound if series_uid else StudyNotFound)("Study does not exist in your inbox")
    for share in held:
        shares.remove_series(share)
