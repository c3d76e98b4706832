"""The permission policy: the one place that answers "may principal P do A on R".

Routes and services call these functions and never hand-roll checks. What a caller may not see
raises a *NotFound (existence hidden, docs/kheops-compatibility.md §1). The decisions read no
table themselves: they ask the facts reader in use (`auth/facts.py`: the tables by default, one
request per fact, or facts held in memory), so each is a function of the principal, its
arguments and those facts, unit-tested without a database (tests/unit/test_policy.py)."""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.auth.facts import facts
from chalicelib.auth.principals import (
    ALBUM_CAPABILITY,
    DEIDENTIFIER,
    REPORT_PROVIDER,
    USER,
    USER_CAPABILITY,
    VIEWER,
    Principal,
)
from chalicelib.errors import AlbumNotFound, BadQueryParameter, Forbidden, NotFound, SeriesNotFound, StudyNotFound
from chalicelib.store import research
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


def may_send_series(principal: Principal, study_uid: str, series_uid: str) -> bool:
    """Whether the series may leave where the principal reads it (to a user, an album, or the
    caller's own inbox by STOW or claim): only through an album granting SEND_SERIES."""
    return bool(sendable_series(principal, study_uid, series_uid))


def authorize_series_send(principal: Principal, study_uid: str, series_uid: str) -> None:
    """Sharing one series: readable (404 otherwise) and sendable; a series the caller reads
    only where sending is off also answers 404, as KHEOPS does."""
    if principal.kind == VIEWER:
        raise Forbidden("a viewer token cannot share")
    if _study_pinned_out(principal, study_uid) or not may_send_series(principal, study_uid, series_uid):
        raise SeriesNotFound("Series does not exist or you don't have access")
    require_action(principal, SEND)


def series_add_target(principal: Principal, album_id: str | None) -> str:
    """The album new series go to when this principal stores them (STOW, claim): for a research
    album, its intake (`share_target`); only the de-identification worker places series in it."""
    if not principal.can("write"):
        raise Forbidden("the token does not allow writing")
    if principal.kind == DEIDENTIFIER:
        return principal.album_id
    target = _add_target(principal, album_id)
    return target if target == principal.user.inbox_id else share_target(target)


def share_target(album_id: str) -> str:
    """Where a series sent or stored into `album_id` is placed: a research album receives only
    de-identified copies, so the identified series goes to its intake, which nobody reads, and
    waits there for the de-identification worker (docs/research-albums.md)."""
    if research.is_intake(album_id):
        return album_id
    album = facts().album(album_id)
    return research.intake_id(album_id) if album is not None and album.research is not None else album_id


def _add_target(principal: Principal, album_id: str | None) -> str:
    if principal.kind in ALBUM_SCOPED:
        target = _pinned_album(principal, Source(album_id=album_id))
        membership = _still_entitled(principal)
        if membership is None:
            raise Forbidden("the token's album no longer entitles it")
        album = facts().album(target)
        if album is not None and album.research is not None and not research_adder(principal, membership):
            raise Forbidden(f"you lack the {ADD_SERIES} permission in this album")
        return target
    if principal.kind == VIEWER:
        return _viewer_store_target(principal, album_id)
    if album_id is None:
        return principal.user.inbox_id
    if album_id == principal.user.inbox_id:
        raise AlbumNotFound("Album does not exist or you don't have access")
    require_album_permission(principal, album_id, ADD_SERIES)
    return album_id


def research_adder(principal: Principal, membership: AlbumMember | None) -> bool:
    """Who may add series to a research album (docs/research-albums.md, who adds): its admins
    only, as users or through their user capabilities, or a report provider one of them launched.
    Whoever adds series there can learn the album's date shift and pseudonyms by storing what
    they know, so members never may, whatever the album's flags, nor the album's capability
    tokens and viewer tokens."""
    return principal.kind in (USER, USER_CAPABILITY, REPORT_PROVIDER) and bool(membership and membership.is_admin)


def _viewer_store_target(principal: Principal, album_id: str | None) -> str:
    """A viewer scoped `write` (OHIF saving a report) stores into its source only: its inbox, or
    its album while its user still holds ADD_SERIES there (viewers reach no album endpoint, so the
    standing is read here rather than through `album_access`)."""
    source = _viewer_source(principal, Source(album_id=album_id))
    if source.album_id is None:
        return principal.user.inbox_id
    if not _standing(principal, source.album_id).allows(ADD_SERIES):
        raise Forbidden(f"you lack the {ADD_SERIES} permission in this album")
    return source.album_id


def sendable_series(principal: Principal, study_uid: str, series_uid: str | None = None,
                    source: Source = ANYWHERE) -> list[str]:
    """Series of a study (or the one series) the principal may send, share or appropriate
    (semantics rule 4): it reads them through at least one album granting it SEND_SERIES. A
    user's inbox always does; an album does for admins, and for members when sendSeries is on;
    an album token needs `read` and `send`. Viewer tokens never send."""
    if principal.kind == VIEWER:
        return []
    visible = readable_series(principal, study_uid, source)
    if series_uid is not None:
        visible = {series_uid: visible[series_uid]} if series_uid in visible else {}
    grants: dict[str, bool] = {}

    def grants_send(album_id: str) -> bool:
        if album_id not in grants:
            if principal.has_user_access and album_id == principal.user.inbox_id:
                grants[album_id] = True
            else:
                try:
                    grants[album_id] = album_access(principal, album_id).allows(SEND_SERIES)
                except AlbumNotFound:
                    grants[album_id] = False
        return grants[album_id]

    return sorted(series for series, held in visible.items() if any(grants_send(s.album_id) for s in held))


def share_destination(principal: Principal) -> str:
    """Where an appropriated study or series goes (`PUT /studies/{s}[/series/{se}]`): a user's
    inbox, or an album token's album (it needs `write` and a creator still admin there)."""
    if principal.kind not in (USER, USER_CAPABILITY, ALBUM_CAPABILITY):
        raise Forbidden("You don't have the permission to do this with this type of token")
    return series_add_target(principal, None)


def may_add_to_series(principal: Principal, study_uid: str, series_uid: str, target_album: str) -> bool:
    """Whether this principal may store instances into the series (`StudyStanding.may_add`)."""
    return StoreStanding(principal, target_album).study(study_uid).may_add(series_uid)


class StoreStanding:
    """What a principal storing into `target_album` may do, read once per request: its readable
    albums once, each study's shares once (a STOW asks about every instance it carries)."""

    def __init__(self, principal: Principal, target_album: str):
        self.principal, self.target_album = principal, target_album
        self._albums: dict[str, AlbumMember | None] | None = None
        self._studies: dict[str, StudyStanding] = {}

    def albums(self) -> dict[str, AlbumMember | None]:
        if self._albums is None:
            self._albums = readable_albums(self.principal)
        return self._albums

    def study(self, study_uid: str) -> StudyStanding:
        if study_uid not in self._studies:
            self._studies[study_uid] = StudyStanding(self, study_uid)
        return self._studies[study_uid]


class StudyStanding:
    """One study as a storing principal stands with it, from one read of the study's shares."""

    def __init__(self, scope: StoreStanding, study_uid: str):
        self.scope, self.principal = scope, scope.principal
        self.pinned_out = _study_pinned_out(self.principal, study_uid)
        self.holders: list[SeriesShare] = [] if self.pinned_out else facts().shares_of_study(study_uid)
        self._may_add: dict[str, bool] = {}

    def readable_series(self) -> dict[str, list[SeriesShare]]:
        """As `readable_series`: the series of the study the principal reads, with their shares."""
        albums = self.scope.albums() if self.holders else {}
        visible: dict[str, list[SeriesShare]] = {}
        for share in self.holders:
            if share.album_id in albums:
                visible.setdefault(share.series_uid, []).append(share)
        return visible

    def in_target(self, series_uid: str) -> bool:
        """Whether the target album held the series when the request began."""
        return any(s.series_uid == series_uid and s.album_id == self.scope.target_album for s in self.holders)

    def may_add(self, series_uid: str) -> bool:
        """A series may receive instances from this principal into the target album when it is
        new (in no album: orphans are purged, docs/data-model.md), already in the target album
        and readable there, or readable and sendable (semantics: a series read only through
        albums without SEND_SERIES cannot leave them, by STOW or claim either). A report provider
        only inside its launched studies, which must be in its album."""
        if series_uid not in self._may_add:
            self._may_add[series_uid] = self._decide(series_uid)
        return self._may_add[series_uid]

    def _placed_it(self, series_uid: str) -> bool:
        """Whether the principal placed the series in the target research album's intake (a STOW
        in several requests): the intake is nobody's album, and waiting in it entitles nobody else."""
        target = self.scope.target_album
        return research.is_intake(target) and any(
            s.series_uid == series_uid and s.album_id == target and s.placed_by == self.principal.sub
            for s in self.holders)

    def _decide(self, series_uid: str) -> bool:
        principal = self.principal
        if self.pinned_out:
            return False
        if principal.kind == REPORT_PROVIDER and not any(s.album_id == principal.album_id for s in self.holders):
            return False
        holders = {s.album_id for s in self.holders if s.series_uid == series_uid}
        if not holders:
            return True
        target = self.scope.target_album
        if principal.kind == DEIDENTIFIER:
            return holders == {target}
        if self._placed_it(series_uid):
            return True  # its sender goes on storing a series only the research album's intake holds
        if principal.kind in ALBUM_SCOPED:
            return principal.album_id in holders
        readable = set(self.scope.albums()) & holders
        if self.scope.target_album in readable:
            return True
        return bool(readable) and _grants(principal, sorted(readable), SEND_SERIES)


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


# ---- what a token may do at all (semantics.md 6, 7) -----------------------------------------
# One table: for each action, the kinds of token that may take it and the scope words (capability
# flags) each kind needs. A kind absent from an action's row never takes it (403). Album
# permissions of user-level tokens are bound by the same words (`_user_permission_scope`).

READ = "read"  # series and study reads
READ_COMMENTS = "read comments"  # study comments and album events
CHANGE = "change"  # user-level state changes: albums, members, favorites, comments, webhooks, launches
SEND = "send"  # sending series to a user or an album, appropriating
MANAGE_CAPABILITIES = "manage capabilities"  # create, list, revoke capability tokens: own sign-in only
READ_CAPABILITY = "read capability"  # one capability token by id: user-level tokens (KHEOPS)

_ACTION_SCOPE: dict[str, dict[str, frozenset[str]]] = {
    READ: {USER: frozenset(), USER_CAPABILITY: frozenset({"read"}), ALBUM_CAPABILITY: frozenset({"read"}),
           VIEWER: frozenset({"read"}), REPORT_PROVIDER: frozenset({"read"})},
    READ_COMMENTS: {USER: frozenset(), USER_CAPABILITY: frozenset({"read"})},
    CHANGE: {USER: frozenset(), USER_CAPABILITY: frozenset({"write"})},
    SEND: {USER: frozenset(), USER_CAPABILITY: frozenset({"read", "write"}),
           ALBUM_CAPABILITY: frozenset({"read", "send"})},
    MANAGE_CAPABILITIES: {USER: frozenset()},
    READ_CAPABILITY: {USER: frozenset(), USER_CAPABILITY: frozenset()},
}


def may(principal: Principal, action: str) -> bool:
    needed = _ACTION_SCOPE[action].get(principal.kind)
    return needed is not None and needed <= principal.scope


def require_action(principal: Principal, action: str) -> None:
    """403 unless the token's kind and flags allow `action` (before any resource is looked at)."""
    if not may(principal, action):
        raise Forbidden("You don't have the permission to do this with this token")


def comment_visible(principal: Principal, author_sub: str, target_sub: str | None, private: bool) -> bool:
    """Comments are read only with user-level tokens; a private one only by its author and its
    addressee."""
    if not may(principal, READ_COMMENTS):
        return False
    return not private or principal.sub in (author_sub, target_sub)


def require_provider_testing(principal: Principal) -> None:
    """`POST /reportproviders/metadata` makes Obelisk fetch a URL: only for album admins (a
    user-level token with write, admin of at least one album other than the inbox)."""
    require_action(principal, CHANGE)
    admin_of = [a for a, m in facts().memberships(principal.sub).items() if m.is_admin and a != principal.user.inbox_id]
    if not admin_of:
        raise Forbidden("only album admins test report-provider configurations")


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


def require_userinfo_reader(principal: Principal) -> None:
    """`GET /userinfo` answers report-provider tokens only (docs/report-providers.md): 403."""
    if principal.kind != REPORT_PROVIDER:
        raise Forbidden("userinfo answers report-provider tokens only")


# ---- embeddable reporting (docs/reporting.md) -----------------------------------------------


def _identities(principal: Principal) -> set[str]:
    return {principal.sub.lower(), (principal.user.email or "").lower()} - {""}


def require_obelisk_admin(principal: Principal) -> None:
    """Site administration: only users named in `OBELISK_ADMINS` (subs or e-mails)."""
    from chalicelib.config import settings

    if principal.kind != USER or not _identities(principal) & set(settings().obelisk_admins):
        raise Forbidden("only Obelisk administrators may manage reporting sites")


SITE_REFUSAL = "Site does not exist or you are not one of its admins"


def require_site_admin(principal: Principal, site) -> None:
    """Reading a site's reports: the token must belong to one of the site's admins (403). A launch
    goes through `launchable_site`, which answers as for an unknown site."""
    admins = {a.lower() for a in site.admins}
    if principal.kind != USER or not _identities(principal) & admins:
        raise Forbidden(f"the access token is not a site admin's token for site {site.site_id}")


def launchable_site(principal: Principal, site_id: str):
    """The site a report may be launched for: unknown sites and sites the token does not
    administer answer the same 404 (one status, one message), so site names cannot be listed."""
    site = facts().site(site_id)
    try:
        if site is None:
            raise NotFound(SITE_REFUSAL)
        require_site_admin(principal, site)
    except (NotFound, Forbidden) as error:
        raise NotFound(SITE_REFUSAL, message="Site Not Found") from error
    return site


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
