"""The permission policy: the one place that answers "may principal P do A on R".

Routes and services call these functions and never hand-roll checks. What a caller may not see
raises a *NotFound (existence hidden, `kheops-api.md` section 7)."""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.auth.principals import Principal
from chalicelib.errors import AlbumNotFound, BadQueryParameter, Forbidden, SeriesNotFound, StudyNotFound
from chalicelib.store import shares
from chalicelib.store.models import Album, AlbumMember, SeriesShare


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


def authorize_download(principal: Principal, source: Source = Source()) -> None:
    """Whole-study downloads (zip), enforced server-side (a KHEOPS quirk fixed): the token needs
    the `downloadbutton` scope and, from an album, the album's DOWNLOAD_SERIES permission."""
    if not principal.can("downloadbutton"):
        raise Forbidden("this token does not allow downloads")
    if source.album_id is not None:
        require_album_permission(principal, source.album_id, DOWNLOAD_SERIES)


def series_add_target(principal: Principal, album_id: str | None) -> str:
    """The album new series go to when this principal stores them (STOW, claim)."""
    if not principal.can("write"):
        raise Forbidden("the token does not allow writing")
    if album_id is None:
        if principal.has_user_access:
            return principal.user.inbox_id
        raise Forbidden("this token cannot store series")
    if album_id == principal.user.inbox_id:
        raise AlbumNotFound("Album does not exist or you don't have access")
    require_album_permission(principal, album_id, ADD_SERIES)
    return album_id


def may_add_to_series(principal: Principal, study_uid: str, series_uid: str) -> bool:
    """A series may receive instances from this principal when it is new or orphan (in no
    album), or already visible to the principal."""
    holders = shares.shares_of_study(study_uid, series_uid)
    if not holders:
        return True
    mine = shares.memberships(principal.sub)
    return any(s.album_id in mine for s in holders)


# ---- album permissions (kheops-api.md section 3.0) -----------------------------------------

ADD_USER = "ADD_USER"
REMOVE_USER = "REMOVE_USER"
ADD_ADMIN = "ADD_ADMIN"
REMOVE_ADMIN = "REMOVE_ADMIN"
DELETE_ALBUM = "DELETE_ALBUM"
MANAGE_CAPABILITIES_TOKEN = "MANAGE_CAPABILITIES_TOKEN"
MANAGE_DICOM_SR = "MANAGE_DICOM_SR"
MANAGE_WEBHOOK = "MANAGE_WEBHOOK"
DOWNLOAD_SERIES = "DOWNLOAD_SERIES"
SEND_SERIES = "SEND_SERIES"
DELETE_SERIES = "DELETE_SERIES"
ADD_SERIES = "ADD_SERIES"
EDIT_FAVORITES = "EDIT_FAVORITES"
WRITE_COMMENT = "WRITE_COMMENT"
READ_SERIES = "READ_SERIES"
READ_COMMENT = "READ_COMMENT"
EDIT_ALBUM = "EDIT_ALBUM"
LIST_USERS = "LIST_USERS"
GET_DICOM_SR = "GET_DICOM_SR"

_ADMIN_ONLY = {ADD_ADMIN, REMOVE_ADMIN, DELETE_ALBUM, MANAGE_CAPABILITIES_TOKEN, MANAGE_DICOM_SR, MANAGE_WEBHOOK}
_MEMBER_FLAG = {
    ADD_USER: "add_user", DOWNLOAD_SERIES: "download_series", SEND_SERIES: "send_series",
    DELETE_SERIES: "delete_series", ADD_SERIES: "add_series", EDIT_FAVORITES: "add_series",
    WRITE_COMMENT: "write_comments",
}
_ALWAYS = {REMOVE_USER, READ_SERIES, READ_COMMENT, EDIT_ALBUM, LIST_USERS, GET_DICOM_SR}


@dataclass(frozen=True)
class AlbumAccess:
    """A principal's standing in one album: the album item and, for users, their membership."""

    principal: Principal
    album: Album
    membership: AlbumMember | None

    @property
    def album_id(self) -> str:
        return self.album.album_id

    @property
    def is_admin(self) -> bool:
        return bool(self.membership and self.membership.is_admin)

    def allows(self, permission: str) -> bool:
        """The permission table of kheops-api.md 3.0 for user principals; false on the inbox."""
        if self.album.is_inbox:
            return False
        if self.is_admin:
            return True
        if permission in _ADMIN_ONLY:
            return False
        if permission in _ALWAYS:
            return True
        flag = _MEMBER_FLAG.get(permission)
        return bool(flag and getattr(self.album.flags, flag))


def album_access(principal: Principal, album_id: str) -> AlbumAccess:
    """The caller's access to an album; 404 `Album Not Found` whether or not it exists."""
    membership = shares.membership(album_id, principal.sub)
    if membership is None:
        raise AlbumNotFound("Album does not exist or you don't have access")
    try:
        album = Album.get(*Album.key(album_id))
    except Album.DoesNotExist as error:
        raise AlbumNotFound("Album does not exist or you don't have access") from error
    return AlbumAccess(principal, album, membership)


def require_user_access(principal: Principal) -> None:
    """User-level endpoints (albums, webhooks, sharing) refuse album-scoped tokens: 403."""
    if not principal.has_user_access:
        raise Forbidden("You don't have the permission to do this with this type of token")


def require_album_permission(principal: Principal, album_id: str, permission: str) -> AlbumAccess:
    """Album access (404) then the permission (403), in KHEOPS's filter order."""
    access = album_access(principal, album_id)
    if not access.allows(permission):
        raise Forbidden(f"you lack the {permission} permission in this album")
    return access
