"""Sharing studies and series between inboxes and albums (docs/kheops-compatibility.md §6).

A series leaves where the caller reads it (to a user, to an album) only through an album granting
SEND_SERIES (`policy.may_send_series`; the caller's inbox always does): a series seen only in
albums with `sendSeries` off cannot be copied out of them (KHEOPS quirk 5, fixed for every path)."""
from __future__ import annotations

from chalicelib.auth import policy
from chalicelib.auth.principals import Principal
from chalicelib.dicom import json_model
from chalicelib.errors import BadQueryParameter, SeriesNotFound, StudyNotFound
from chalicelib.events import mutations
from chalicelib.services import research_intake, users
from chalicelib.store import identity, research, shares
from chalicelib.store.models import SeriesRecord


def _copy(principal: Principal, study_uid: str, series_uids: list[str], target_album: str, is_inbox: bool) -> int:
    """The series into `target_album` (a research album's intake instead of the album: `policy.share_target`)."""
    if not is_inbox:
        target_album = policy.share_target(target_album)
    records = {r.series_uid: r for r in SeriesRecord.batch_get([SeriesRecord.key(study_uid, s) for s in series_uids])}
    identities = identity.of_series(list(records.values()))  # each series keeps its own identity
    placer = principal.sub if research.is_intake(target_album) else None
    added = {s for s in series_uids if s in records and shares.add_series(
        target_album, study_uid, s, identities[(study_uid, s)], json_model.text_value(records[s].attributes, "Modality"),
        placed_by=placer)}
    if added and research.is_intake(target_album):
        research_intake.enter(target_album, principal, study_uid, added)
    elif added and not is_inbox:
        counts = {s: int(records[s].instance_count) for s in added}
        mutations.import_series(target_album, principal, study_uid, counts, added, import_source="send")
    return len(added)


def share_study_with_user(principal: Principal, study_uid: str, reference: str,
                          album: str | None, inbox: str | None) -> None:
    """`PUT /studies/{s}/users/{user}`: the study's series from the source to the user's inbox."""
    source = policy.share_source(principal, album, inbox)
    series = policy.require_study_share(principal, study_uid, source)
    policy.require_action(principal, policy.SEND)
    target = users.find_user(reference)
    _copy(principal, study_uid, series, target.inbox_id, is_inbox=True)


def share_series_with_user(principal: Principal, study_uid: str, series_uid: str, reference: str) -> None:
    policy.authorize_series_send(principal, study_uid, series_uid)
    target = users.find_user(reference)
    _copy(principal, study_uid, [series_uid], target.inbox_id, is_inbox=True)


def _claim_or_send_series(principal: Principal, sender: Principal | None, study_uid: str, series_uid: str,
                          target: str) -> None:
    """One series into `target` (the destination rights are checked already), when the sender may
    send it (`policy.series_send_or_claim`, 404 otherwise). A claim stores nothing: the series
    joins the target when the caller stores its instances there."""
    if policy.series_send_or_claim(principal, sender, study_uid, series_uid):
        _copy(principal, study_uid, [series_uid], target, is_inbox=target == principal.user.inbox_id)


def _send_study(principal: Principal, sender: Principal, study_uid: str, source: policy.Source, target: str) -> None:
    """Every series of the study the sender may send from `source` into `target`
    (`policy.require_study_send`: 404 when it reads none, 403 when it may send none)."""
    series = policy.require_study_send(sender, study_uid, source)
    _copy(principal, study_uid, series, target, is_inbox=target == principal.user.inbox_id)


def add_series_to_album(principal: Principal, study_uid: str, series_uid: str, album_id: str,
                        sender: Principal | None = None) -> None:
    """`PUT /studies/{s}/series/{se}/albums/{album}`, optionally from an `X-Authorization-Source`."""
    policy.require_user_access(principal)
    policy.require_action(principal, policy.SEND)
    policy.require_album_permission(principal, album_id, policy.ADD_SERIES)
    _claim_or_send_series(principal, sender, study_uid, series_uid, album_id)


def add_study_to_album(principal: Principal, study_uid: str, album_id: str, album: str | None,
                       inbox: str | None, sender: Principal | None = None) -> None:
    """`PUT /studies/{s}/albums/{album}`: album (or inbox) to album, or from the album of the
    `X-Authorization-Source` token (then neither album nor inbox is given)."""
    policy.require_user_access(principal)
    policy.require_action(principal, policy.SEND)
    if sender is not None:
        if album is not None or inbox is not None:
            raise BadQueryParameter("album and inbox cannot be combined with X-Authorization-Source")
        policy.require_album_permission(principal, album_id, policy.ADD_SERIES)
        _send_study(principal, sender, study_uid, policy.ANYWHERE, album_id)
        return
    source = policy.share_source(principal, album, inbox)
    policy.require_album_permission(principal, album_id, policy.ADD_SERIES)
    series = policy.require_study_share(principal, study_uid, source)
    _copy(principal, study_uid, series, album_id, is_inbox=False)


def appropriate_study(principal: Principal, study_uid: str, album: str | None, sender: Principal | None) -> None:
    """`PUT /studies/{s}`: the study's series the sender may send (from `album`, or from the
    `X-Authorization-Source` token's album) into the caller's inbox, or an album token's album."""
    if sender is not None and album is not None:
        raise BadQueryParameter("album cannot be combined with X-Authorization-Source")
    target = policy.share_destination(principal)
    if sender is None and album is not None:
        policy.require_album_permission(principal, album, policy.SEND_SERIES)
    _send_study(principal, sender or principal, study_uid, policy.Source(album_id=album), target)


def appropriate_series(principal: Principal, study_uid: str, series_uid: str, sender: Principal | None) -> None:
    """`PUT /studies/{s}/series/{se}`: the series into the caller's inbox (or an album token's
    album), from wherever the sender may send it; a claim when nobody here lets the caller read it."""
    target = policy.share_destination(principal)
    _claim_or_send_series(principal, sender, study_uid, series_uid, target)


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
    album_id = policy.removal_album(principal, study_uid, series_uid)
    if album_id is not None:
        remove_from_album(principal, study_uid, series_uid, album_id)
        return
    inbox = principal.user.inbox_id
    held = [s for s in shares.shares_in_album(inbox, study_uid) if series_uid in (None, s.series_uid)]
    if not held:
        raise (SeriesNotFound if series_uid else StudyNotFound)("Study does not exist in your inbox")
    for share in held:
        shares.remove_series(share)
