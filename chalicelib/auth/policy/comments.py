"""Comments and album history: which comments and events naming studies a principal may read."""
from __future__ import annotations

from chalicelib.auth.facts import facts
from chalicelib.auth.policy.albums import AlbumAccess
from chalicelib.auth.policy.reads import _study_pinned_out, readable_albums
from chalicelib.auth.policy.tokens import READ_COMMENTS, may
from chalicelib.auth.principals import (
    Principal,
)


def comment_reader(principal: Principal, study_uid: str):
    """Which comments on a study the principal may read: its own; others' only when addressed to
    everyone or to it, and when it reads every series the author read when posting
    (`StudyComment.series_uids`), since a comment may speak of any of them. Nothing a caller does
    alone opens a comment: storing one's own series under a known study UID, or pushing one into
    the author's inbox, adds nothing to what was read when the comment was written. Comments
    written before the snapshot was kept compare with what their author reads now (none: hidden).
    A predicate over `StudyComment`s."""
    if not may(principal, READ_COMMENTS):
        return lambda comment: False
    holders = [] if _study_pinned_out(principal, study_uid) else facts().shares_of_study(study_uid)
    albums = readable_albums(principal)
    mine = {s.series_uid for s in holders if s.album_id in albums}
    authors_now: dict[str, set[str]] = {}

    def seen_when_posted(comment) -> set[str]:
        if comment.series_uids:
            return set(comment.series_uids)
        if comment.author_sub not in authors_now:
            theirs = facts().memberships(comment.author_sub)
            authors_now[comment.author_sub] = {s.series_uid for s in holders if s.album_id in theirs}
        return authors_now[comment.author_sub]

    def readable(comment) -> bool:
        if comment.author_sub == principal.sub:
            return True
        if not comment_visible(principal, comment.author_sub, comment.target_sub, comment.target_sub is not None):
            return False
        seen = seen_when_posted(comment)
        return bool(seen) and seen <= mine

    return readable


def history_reader(principal: Principal, access: AlbumAccess):
    """Whether an album's history item naming a study (and series) may be shown to the principal
    (docs/kheops-compatibility.md §7): when it reads every named series now, anywhere, or was a
    member of the album at `moment` (`AlbumMember.joined_at`; a membership without one counts as
    joined now). A predicate `(moment, study_uid, series_uids) -> bool`; KHEOPS showed all."""
    joined = getattr(access.membership, "joined_at", None)
    albums: list[dict] = []  # the principal's readable albums, looked up once, when first needed
    readable: dict[str, set[str]] = {}

    def reads(study_uid: str) -> set[str]:
        if study_uid not in readable:
            if not albums:
                albums.append(readable_albums(principal))
            holders = [] if _study_pinned_out(principal, study_uid) else facts().shares_of_study(study_uid)
            readable[study_uid] = {s.series_uid for s in holders if s.album_id in albums[0]}
        return readable[study_uid]

    def shown(moment: str, study_uid: str, series_uids: list[str]) -> bool:
        if joined is not None and moment >= joined:
            return True
        mine = reads(study_uid)
        return bool(mine) and set(series_uids) <= mine

    return shown


def event_reader(principal: Principal, access: AlbumAccess):
    """Which events of an album the principal may read: a comment as `comment_visible` says; an
    event naming a study as `history_reader` says; any other event. A predicate over `AlbumEvent`s."""
    names = history_reader(principal, access)

    def visible(event) -> bool:
        if event.event_type == "Comment":
            return comment_visible(principal, event.actor_sub, event.target_sub, bool(event.is_private))
        return not event.study_uid or names(event.post_date, event.study_uid, event.series_uids or [])

    return visible


def comment_visible(principal: Principal, author_sub: str, target_sub: str | None, private: bool) -> bool:
    """Comments are read only with user-level tokens; a private one only by its author and its
    addressee."""
    if not may(principal, READ_COMMENTS):
        return False
    return not private or principal.sub in (author_sub, target_sub)
