"""The permission policy: the one place that answers "may principal P do A on R".

Routes and services call these functions and never hand-roll checks. What a caller may not see
raises a *NotFound (existence hidden, `kheops-api.md` section 7)."""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.auth.principals import Principal
from chalicelib.errors import AlbumNotFound, BadQueryParameter, Forbidden, SeriesNotFound, StudyNotFound
from chalicelib.store import shares
from chalicelib.store.models import AlbumMember, SeriesShare


@dataclass(frozen=True)
class Source:
    """Where a study listing or retrieval looks: one album, the inbox, or everything visible."""

    album_id: str | None = None
    inbox: bool = False


def parse_source(album: str | None, inbox: str | None) -> Source:
    if album is not None and inbox is not None:
        raise BadQueryParameter("album and inbox cannot be combined")
    if inbox is not None and inbox.lower() not in ("true", ""):
        raise BadQueryParameter("inbox only takes the value true")
    return Source(album_id=album or None, inbox=inbox is not None)


def readable_albums(principal: Principal, source: Source = Source()) -> dict[str, AlbumMember]:
    """The albums whose series the principal may read within `source`."""
    if not principal.can("read"):
        return {}
    member_of = shares.memberships(principal.sub)
    if source.inbox:
        if not principal.has_user_access:
            raise Forbidden("inbox access needs a user token")
        return {principal.user.inbox_id: member_of[principal.user.inbox_id]}
    if source.album_id is not None:
        if source.album_id not in member_of or source.album_id == principal.user.inbox_id:
            raise AlbumNotFound("Album does not exist or you don't have access")
        return {source.album_id: member_of[source.album_id]}
    return member_of


def readable_series(principal: Principal, study_uid: str, source: Source = Source()) -> dict[str, list[SeriesShare]]:
    """Series of a study the principal may read, each with the shares that grant it."""
    albums = readable_albums(principal, source)
    visible: dict[str, list[SeriesShare]] = {}
    for share in shares.shares_of_study(study_uid):
        if share.album_id in albums:
            visible.setdefault(share.series_uid, []).append(share)
    return visible


def authorize_study_read(principal: Principal, study_uid: str, source: Source = Source()) -> dict[str, list[SeriesShare]]:
    visible = readable_series(principal, study_uid, source)
    if not visible:
        raise StudyNotFound("Study does not exist or you don't have access")
    return visible


def authorize_series_read(principal: Principal, study_uid: str, series_uid: str, source: Source = Source()) -> None:
    """Budget: at most 3 DynamoDB requests (memberships, shares of the series)."""
    albums = readable_albums(principal, source)
    if not any(s.album_id in albums for s in shares.shares_of_study(study_uid, series_uid)):
        raise SeriesNotFound("Series does not exist or you don't have access")


def series_add_target(principal: Principal, album_id: str | None) -> str:
    """The album new series go to when this principal stores them (STOW, claim)."""
    if not principal.can("write"):
        raise Forbidden("the token does not allow writing")
    if album_id is None:
        if principal.has_user_access:
            return principal.user.inbox_id
        raise Forbidden("this token cannot store series")
    membership = shares.membership(album_id, principal.sub)
    if membership is None or album_id == principal.user.inbox_id:
        raise AlbumNotFound("Album does not exist or you don't have access")
    return album_id


def may_add_to_series(principal: Principal, study_uid: str, series_uid: str) -> bool:
    """A series may receive instances from this principal when it is new or orphan (in no
    album), or already visible to the principal."""
    holders = shares.shares_of_study(study_uid, series_uid)
    if not holders:
        return True
    mine = shares.memberships(principal.sub)
    return any(s.album_id in mine for s in holders)
