"""Albums and their members (docs/kheops-compatibility.md §3): the permission table, a principal's
standing in one album, and the refusals of album, member and audit-trail endpoints."""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.auth.facts import facts
from chalicelib.auth.policy.research import research_adder
from chalicelib.auth.policy.tokens import (
    _ACTION_SCOPE,
    ALBUM_SCOPED,
    CHANGE,
    READ,
    SEND,
    require_action,
    require_user_access,
)
from chalicelib.auth.principals import (
    ALBUM_CAPABILITY,
    REPORT_PROVIDER,
    USER,
    USER_CAPABILITY,
    VIEWER,
    Principal,
)
from chalicelib.errors import AlbumNotFound, Forbidden, NotFound
from chalicelib.store.models import Album, AlbumMember

# ---- album permissions (docs/kheops-compatibility.md §3) -----------------------------------------

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
        """The permission table of docs/kheops-compatibility.md §3; false on the inbox; in a
        research album, ADD_SERIES only for its admins (`research_adder`)."""
        if self.album.is_inbox:
            return False
        if permission == ADD_SERIES and self.album.research is not None and not research_adder(self.principal, self.membership):
            return False
        if self.principal.kind not in (USER, USER_CAPABILITY):
            allowed = _token_allows(self.principal, permission)
            if not allowed or self.principal.kind != VIEWER:
                return allowed
            # a viewer's `write` is bounded by its user's own permission in the album, read now
        if not _user_permission_scope(permission) <= self.principal.scope:
            return False  # a user capability acts as its user only within its flags
        if self.is_admin:
            return True
        if permission in _ADMIN_ONLY:
            return False
        if permission in _ALWAYS:
            return True
        flag = _MEMBER_FLAG.get(permission)
        return bool(flag and getattr(self.album.flags, flag))


_READING = {READ_SERIES, READ_COMMENT, LIST_USERS, GET_DICOM_SR}


def _user_permission_scope(permission: str) -> frozenset[str]:
    """The scope words a user-level token needs for an album permission: reads `read`, sending
    what SEND needs, downloads `downloadbutton`, everything else (a change) `write`."""
    if permission in _READING:
        return _ACTION_SCOPE[READ][USER_CAPABILITY]
    if permission == SEND_SERIES:
        return _ACTION_SCOPE[SEND][USER_CAPABILITY]
    if permission == DOWNLOAD_SERIES:
        return frozenset({"read", "downloadbutton"})
    return _ACTION_SCOPE[CHANGE][USER_CAPABILITY]


_TOKEN_PERMISSIONS = {  # album permission -> scope words an album-scoped token needs
    READ_SERIES: {"read"}, ADD_SERIES: {"write"}, DELETE_SERIES: {"read", "write"},
    SEND_SERIES: {"read", "send"}, DOWNLOAD_SERIES: {"read", "downloadbutton"},
}


def _token_allows(principal: Principal, permission: str) -> bool:
    """Album capabilities: their flags; providers: READ_SERIES and ADD_SERIES only; viewers:
    READ_SERIES, and ADD_SERIES when scoped `write` (then also bounded by their user's membership)."""
    if principal.kind in (REPORT_PROVIDER, VIEWER) and permission not in (READ_SERIES, ADD_SERIES):
        return False
    needed = _TOKEN_PERMISSIONS.get(permission)
    return needed is not None and needed <= principal.scope


def album_access(principal: Principal, album_id: str) -> AlbumAccess:
    """The caller's access to an album; 404 `Album Not Found` whether or not it exists. Viewer
    tokens reach no album endpoint (they read series of their study only, `readable_albums`)."""
    if principal.kind == VIEWER:
        raise AlbumNotFound("Album does not exist or you don't have access")
    if principal.kind in ALBUM_SCOPED and album_id != principal.album_id:
        raise AlbumNotFound("Album does not exist or you don't have access")
    return _standing(principal, album_id)


def _standing(principal: Principal, album_id: str) -> AlbumAccess:
    """The album item and the principal's membership (an album token's creator must be admin)."""
    membership = facts().membership(album_id, principal.sub)
    if membership is None or (principal.kind == ALBUM_CAPABILITY and not membership.is_admin):
        raise AlbumNotFound("Album does not exist or you don't have access")
    album = facts().album(album_id)
    if album is None:
        raise AlbumNotFound("Album does not exist or you don't have access")
    return AlbumAccess(principal, album, membership)


def require_provider_testing(principal: Principal) -> None:
    """`POST /reportproviders/metadata` makes Obelisk fetch a URL: only for album admins (a
    user-level token with write, admin of at least one album other than the inbox)."""
    require_action(principal, CHANGE)
    admin_of = [a for a, m in facts().memberships(principal.sub).items() if m.is_admin and a != principal.user.inbox_id]
    if not admin_of:
        raise Forbidden("only album admins test report-provider configurations")

def require_album_permission(principal: Principal, album_id: str, permission: str) -> AlbumAccess:
    """Album access (404) then the permission (403), in KHEOPS's filter order."""
    access = album_access(principal, album_id)
    if not access.allows(permission):
        raise Forbidden(f"you lack the {permission} permission in this album")
    return access


def require_album_edit(principal: Principal, album_id: str, changes_settings: bool) -> AlbumAccess:
    """`PATCH /albums/{album}`: EDIT_ALBUM (404, then 403); the album's settings (name, description,
    flags) only by its admins (403); a member's own notification choices by any member."""
    access = require_album_permission(principal, album_id, EDIT_ALBUM)
    if changes_settings and not access.is_admin:
        raise Forbidden("only album admins change the name, description and flags")
    return access


def require_member_adder(principal: Principal, album_id: str, as_admin: bool) -> AlbumAccess:
    """Adding a member (or an admin): a user-level token (403), the album reached (404), then
    ADD_USER / ADD_ADMIN (403). Asked before the person added is looked up."""
    require_user_access(principal)
    return require_album_permission(principal, album_id, ADD_ADMIN if as_admin else ADD_USER)


def require_addable_member(principal: Principal, target_sub: str) -> None:
    """Nobody adds themselves to an album (403): they are in it already, or may not be."""
    if target_sub == principal.sub:
        raise Forbidden("you cannot add yourself")


def require_member_remover(principal: Principal, album_id: str) -> AlbumAccess:
    """Removing a member or leaving: a user-level token (403), the album reached (404), REMOVE_USER
    (403). Asked before the person removed is looked up."""
    require_user_access(principal)
    return require_album_permission(principal, album_id, REMOVE_USER)


def require_removable_member(access: AlbumAccess, target_sub: str) -> None:
    """Anyone leaves (removes themselves); only the album's admins remove someone else (403)."""
    if target_sub != access.principal.sub and not access.is_admin:
        raise Forbidden("only admins remove other members")


def require_audit_reader(principal: Principal, album_id: str) -> AlbumAccess:
    """`GET /albums/{album}/reads`: the read audit trail is for the album's admins, with a
    user-level token (403), of an album they reach (404); an inbox has no audit trail (403)."""
    require_user_access(principal)
    access = album_access(principal, album_id)
    if not access.is_admin or access.album.is_inbox:
        raise Forbidden("only album admins read the audit trail")
    return access


def require_member_listing(principal: Principal) -> None:
    """An album's answer lists its members (`includeUsers=true`) to user and user-capability tokens
    only (403); the album itself was reached first (`album_access`)."""
    if principal.kind not in (USER, USER_CAPABILITY):
        raise Forbidden("listing users needs a user token")


def require_held_series_admin(principal: Principal, album_id: str) -> AlbumAccess:
    """A research album's held series (docs/research-albums.md) are listed and released by its
    admins only: a user-level token (403), the album reached (404), a research album (404 as for
    no album), an admin (403)."""
    require_user_access(principal)
    access = album_access(principal, album_id)
    if access.album.research is None:
        raise NotFound("not a research album", message="Album Not Found")
    if not access.is_admin:
        raise Forbidden("only album admins see and release held series")
    return access


def require_album_reader(principal: Principal, album_id: str) -> AlbumAccess:
    """`GET /albums/{album}`: a user-level token needs `read` (403) and reaches the album (404); an
    album-scoped token needs READ_SERIES there (404, 403); an inbox is no album (404)."""
    if principal.has_user_access:
        require_action(principal, READ)
        access = album_access(principal, album_id)
    else:
        access = require_album_permission(principal, album_id, READ_SERIES)
    if access.album.is_inbox:
        raise AlbumNotFound("Album does not exist or you don't have access")
    return access
