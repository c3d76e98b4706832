"""Series and study reads: where a caller looks (`Source`), the albums it reads, the series of a
study it sees, and what a download may carry. What it may not see raises a *NotFound."""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.auth.facts import facts
from chalicelib.auth.policy.albums import DOWNLOAD_SERIES, READ_SERIES, album_access, require_album_permission
from chalicelib.auth.policy.tokens import ALBUM_SCOPED
from chalicelib.auth.principals import (
    ALBUM_CAPABILITY,
    DEIDENTIFIER,
    VIEWER,
    Principal,
)
from chalicelib.errors import AlbumNotFound, BadQueryParameter, Forbidden, SeriesNotFound, StudyNotFound
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


ANYWHERE = Source()
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
    membership = facts().membership(principal.album_id, principal.sub)
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
    """The albums whose series the principal may read within `source`. No principal reads a
    research album's intake (it is nobody's album); the de-identification worker reads only the
    research album it places copies in."""
    if principal.kind == DEIDENTIFIER:
        return {principal.album_id: None}
    if principal.kind in ALBUM_SCOPED:
        album_id = _pinned_album(principal, source)
        entitled = principal.can("read") and _still_entitled(principal) is not None
        return {album_id: None} if entitled else {}
    if not principal.can("read"):
        return {}
    if principal.kind == VIEWER:
        source = _viewer_source(principal, source)
    member_of = facts().memberships(principal.sub)
    if principal.needs_album_admin and not getattr(member_of.get(principal.album_id), "is_admin", False):
        return {}
    if source.inbox:
        if not principal.has_user_access and not principal.inbox_only:
            raise Forbidden("inbox access needs a user token")
        return {principal.user.inbox_id: member_of.get(principal.user.inbox_id)}
    if source.album_id is not None:
        if source.album_id not in member_of or source.album_id == principal.user.inbox_id:
            raise AlbumNotFound("Album does not exist or you don't have access")
        return {source.album_id: member_of[source.album_id]}
    return member_of


def _source_is_own(principal: Principal, source: Source) -> bool:
    """The subject's own inbox, an album it is a member of (an album token: its album, while its
    creator is an admin) or everything it sees; an album that does not exist is not its own."""
    if principal.kind in ALBUM_SCOPED:
        return source.album_id in (None, principal.album_id) and not source.inbox \
            and _still_entitled(principal) is not None
    if source.album_id is None:
        return principal.has_user_access or not source.inbox
    return source.album_id in facts().memberships(principal.sub) and source.album_id != principal.user.inbox_id


def viewer_scope(principal: Principal, study_uid: str, source: Source, requested: list[str]) -> list[str]:
    """The requested viewer words (`read`, `write`) the subject of a token exchange holds for a
    study in a source: none outside its own sources, and `read` only when it reads the study there
    (docs/tokens.md). A missing album and one the subject is not in give the same answer."""
    held = [word for word in requested if principal.can(word)]
    if not _source_is_own(principal, source):
        return []
    if "read" in held and not readable_series(principal, study_uid, source):
        held.remove("read")
    return held


Visible = dict[str, dict[str, list[SeriesShare]]]  # study -> series -> the shares granting it


def visible_series(principal: Principal, source: Source = ANYWHERE) -> Visible:
    """Every series the principal may read within `source`, by study, each with the shares that
    grant it: one Query per readable album (what study-level listings are built from)."""
    visible: Visible = {}
    for album_id in readable_albums(principal, source):
        for share in facts().shares_in_album(album_id):
            if not _study_pinned_out(principal, share.study_uid):
                visible.setdefault(share.study_uid, {}).setdefault(share.series_uid, []).append(share)
    return visible


def _study_pinned_out(principal: Principal, study_uid: str) -> bool:
    return principal.study_uids is not None and study_uid not in principal.study_uids


def readable_series(principal: Principal, study_uid: str, source: Source = ANYWHERE) -> dict[str, list[SeriesShare]]:
    """Series of a study the principal may read, each with the shares that grant it."""
    if _study_pinned_out(principal, study_uid):
        return {}
    albums = readable_albums(principal, source)
    visible: dict[str, list[SeriesShare]] = {}
    for share in facts().shares_of_study(study_uid):
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
    included (docs/kheops-compatibility.md §9)."""
    if _study_pinned_out(principal, study_uid):
        raise SeriesNotFound("Series does not exist or you don't have access")
    albums = readable_albums(principal, source)
    granting = [s.album_id for s in facts().shares_of_study(study_uid, series_uid) if s.album_id in albums]
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


def _grants(principal: Principal, album_ids: list[str], permission: str) -> bool:
    """Whether one of the albums (holding a series the principal reads) grants `permission`:
    the caller's own inbox always does; an album as its permission table says."""
    if principal.kind in ALBUM_SCOPED:
        return principal.album_id in album_ids and album_access(principal, principal.album_id).allows(permission)
    if principal.kind == VIEWER and permission != READ_SERIES:
        return False
    if principal.user and principal.user.inbox_id in album_ids:
        return True
    for album_id in sorted(set(album_ids)):
        try:
            if album_access(principal, album_id).allows(permission):
                return True
        except AlbumNotFound:
            continue
    return False


def downloadable_series(principal: Principal, study_uid: str, visible: dict[str, list[SeriesShare]],
                        source: Source = ANYWHERE) -> list[str]:
    """The series of `visible` a zip may carry (docs/tokens.md, downloads): the token needs
    `downloadbutton`; from an album, its DOWNLOAD_SERIES; without one, only the series read
    through an album granting DOWNLOAD_SERIES (the inbox always does). None left: 403."""
    authorize_download(principal, source)
    if source.album_id is not None:
        return sorted(visible)
    allowed = sorted(series for series, held in visible.items()
                     if _grants(principal, [s.album_id for s in held], DOWNLOAD_SERIES))
    if not allowed:
        raise Forbidden("no series of this study may be downloaded from where you read it")
    return allowed
