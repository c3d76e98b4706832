"""The permission policy: the one place that answers "may principal P do A on R".

Routes and services call these functions and never hand-roll checks. What a caller may not see
raises a *NotFound (existence hidden, `kheops-api.md` section 7)."""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.auth.principals import ALBUM_CAPABILITY, REPORT_PROVIDER, USER, USER_CAPABILITY, VIEWER, Principal
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


ANYWHERE = Source()
ALBUM_SCOPED = (ALBUM_CAPABILITY, REPORT_PROVIDER)


def _pinned_album(principal: Principal, source: Source) -> str:
    """Album capabilities and report providers see their own album and nothing else."""
    if source.inbox:
        raise Forbidden("inbox access needs a user token")
    if source.album_id not in (None, principal.album_id):
        raise AlbumNotFound("Album does not exist or you don't have access")
    return principal.album_id


def _still_entitled(principal: Principal) -> AlbumMember | None:
    """An album token works only while its creator is an admin of the album; a provider token
    only while the launching user is a member."""
    membership = shares.membership(principal.album_id, principal.sub)
    if principal.kind == ALBUM_CAPABILITY and not (membership and membership.is_admin):
        return None
    return membership


def _viewer_source(principal: Principal, source: Source) -> Source:
    pinned = Source(album_id=principal.album_id, inbox=principal.inbox_only)
    if pinned == ANYWHERE:
        return source
    if source not in (ANYWHERE, pinned):
        raise AlbumNotFound("Album does not exist or you don't have access")
    return pinned


def readable_albums(principal: Principal, source: Source = ANYWHERE) -> dict[str, AlbumMember | None]:
    """The albums whose series the principal may read within `source`."""
    if principal.kind in ALBUM_SCOPED:
        album_id = _pinned_album(principal, source)
        entitled = principal.can("read") and _still_entitled(principal) is not None
        return {album_id: None} if entitled else {}
    if not principal.can("read"):
        return {}
    if principal.kind == VIEWER:
        source = _viewer_source(principal, source)
    member_of = shares.memberships(principal.sub)
    if source.inbox:
        if not principal.has_user_access and not principal.inbox_only:
            raise Forbidden("inbox access needs a user token")
        return {principal.user.inbox_id: member_of.get(principal.user.inbox_id)}
    if source.album_id is not None:
        if source.album_id not in member_of or source.album_id == principal.user.inbox_id:
            raise AlbumNotFound("Album does not exist or you don't have access")
        return {source.album_id: member_of[source.album_id]}
    return member_of


def _study_pinned_out(principal: Principal, study_uid: str) -> bool:
    return principal.study_uids is not None and study_uid not in principal.study_uids


def readable_series(principal: Principal, study_uid: str, source: Source = ANYWHERE) -> dict[str, list[SeriesShare]]:
    """Series of a study the principal may read, each with the shares that grant it."""
    if _study_pinned_out(principal, study_uid):
        return {}
    albums = readable_albums(principal, source)
    visible: dict[str, list[SeriesShare]] = {}
    for share in shares.shares_of_study(study_uid):
        if share.album_id in albums:
            visible.setdefault(share.series_uid, []).append(share)
    return visible


def authorize_study_read(principal: Principal, study_uid: str, source: Source = ANYWHERE) -> dict[str, list[SeriesShare]]:
    visible = readable_series(principal, study_uid, source)
    if not visible:
        raise StudyNotFound("Study does not exist or you don't have access")
    return visible


def authorize_series_read(principal: Principal, study_uid: str, series_uid: str,
                          source: Source = ANYWHERE) -> list[str]:
    """The albums that grant the read. Budget: at most 3 DynamoDB requests, token verification
    included (kheops-api.md 4.1)."""
    if _study_pinned_out(principal, study_uid):
        raise SeriesNotFound("Series does not exist or you don't have access")
    albums = readable_albums(principal, source)
    granting = [s.album_id for s in shares.shares_of_study(study_uid, series_uid) if s.album_id in albums]
    if not granting:
        raise SeriesNotFound("Series does not exist or you don't have access")
    return granting


def authorize_download(principal: Principal, source: Source = ANYWHERE) -> None:
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
    if principal.kind in ALBUM_SCOPED:
        target = _pinned_album(principal, Source(album_id=album_id))
        if _still_entitled(principal) is None:
            raise Forbidden("the token's album no longer entitles it")
        return target
    if principal.kind == VIEWER:  # a viewer scoped `write` (OHIF saving a report) stores into its source
        album_id = _viewer_source(principal, Source(album_id=album_id)).album_id
    if album_id is None:
        return principal.user.inbox_id
    if album_id == principal.user.inbox_id:
        raise AlbumNotFound("Album does not exist or you don't have access")
    require_album_permission(principal, album_id, ADD_SERIES)
    return album_id


def may_add_to_series(principal: Principal, study_uid: str, series_uid: str) -> bool:
    """A series may receive instances from this principal when it is new or orphan (in no
    album), or already visible to the principal. Album-scoped principals: new, orphan or in their
    album; a report provider only inside its launched studies, which must be in its album."""
    if _study_pinned_out(principal, study_uid):
        return False
    if principal.kind == REPORT_PROVIDER and not shares.shares_in_album(principal.album_id, study_uid):
        return False
    holders = shares.shares_of_study(study_uid, series_uid)
    if not holders:
        return True
    if principal.kind in ALBUM_SCOPED:
        return any(s.album_id == principal.album_id for s in holders)
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
        """The permission table of kheops-api.md 3.0; false on the inbox."""
        if self.album.is_inbox:
            return False
        if self.principal.kind not in (USER, USER_CAPABILITY):
            allowed = _token_allows(self.principal, permission)
            if not allowed or self.principal.kind != VIEWER:
                return allowed
            # a viewer's `write` is bounded by its user's own permission in the album, read now
        if self.is_admin:
            return True
        if permission in _ADMIN_ONLY:
            return False
        if permission in _ALWAYS:
            return True
        flag = _MEMBER_FLAG.get(permission)
        return bool(flag and getattr(self.album.flags, flag))


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
    """The caller's access to an album; 404 `Album Not Found` whether or not it exists."""
    if principal.kind in ALBUM_SCOPED or principal.kind == VIEWER:
        if album_id != principal.album_id:  # a viewer sees at most the album it was opened from
            raise AlbumNotFound("Album does not exist or you don't have access")
    membership = shares.membership(album_id, principal.sub)
    if membership is None or (principal.kind == ALBUM_CAPABILITY and not membership.is_admin):
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


# ---- embeddable reporting (docs/reporting.md) -----------------------------------------------


def _identities(principal: Principal) -> set[str]:
    return {principal.sub.lower(), (principal.user.email or "").lower()} - {""}


def require_obelisk_admin(principal: Principal) -> None:
    """Site administration: only users named in `OBELISK_ADMINS` (subs or e-mails)."""
    from chalicelib.config import settings

    if principal.kind != USER or not _identities(principal) & set(settings().obelisk_admins):
        raise Forbidden("only Obelisk administrators may manage reporting sites")


def require_site_admin(principal: Principal, site) -> None:
    """Launching reports for a site: the token must belong to one of the site's admins."""
    admins = {a.lower() for a in site.admins}
    if principal.kind != USER or not _identities(principal) & admins:
        raise Forbidden(f"the access token is not a site admin's token for site {site.site_id}")


def report_store_target(principal: Principal, study_uid: str) -> str | None:
    """The album a signed report's SR goes to: an album of the launcher holding the study where
    they may add series, else their inbox (None)."""
    try:
        visible = readable_series(principal, study_uid)
    except Forbidden:
        return None
    albums = {s.album_id for group in visible.values() for s in group}
    albums.discard(principal.user.inbox_id)
    for album_id in sorted(albums):
        try:
            require_album_permission(principal, album_id, ADD_SERIES)
            return album_id
        except (AlbumNotFound, Forbidden):
            continue
    return None
