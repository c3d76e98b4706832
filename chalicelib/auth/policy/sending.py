"""Series leaving where they are read, and series received: sending, sharing, appropriating, and
where STOW or a claim places new series and whether an existing series may grow."""
from __future__ import annotations

from chalicelib.auth.facts import facts
from chalicelib.auth.policy.albums import (
    ADD_SERIES,
    DELETE_SERIES,
    SEND_SERIES,
    _standing,
    album_access,
    require_album_permission,
)
from chalicelib.auth.policy.reads import (
    ANYWHERE,
    Source,
    _grants,
    _pinned_album,
    _still_entitled,
    _study_pinned_out,
    _viewer_source,
    parse_source,
    readable_albums,
    readable_series,
)
from chalicelib.auth.policy.research import research_adder, share_target
from chalicelib.auth.policy.tokens import ALBUM_SCOPED, CHANGE, SEND, require_action
from chalicelib.auth.principals import (
    ALBUM_CAPABILITY,
    DEIDENTIFIER,
    REPORT_PROVIDER,
    USER,
    USER_CAPABILITY,
    VIEWER,
    Principal,
)
from chalicelib.errors import AlbumNotFound, BadQueryParameter, Forbidden, SeriesNotFound, StudyNotFound
from chalicelib.store import research
from chalicelib.store.models import AlbumMember, SeriesShare


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


# ---- sharing a study from where it is read (services/sharing.py) --------------------------------


def share_source(principal: Principal, album: str | None, inbox: str | None) -> Source:
    """Where a shared study is read: an album token's own album (it has no inbox); for the
    others exactly one of album and inbox (400)."""
    if principal.kind in ALBUM_SCOPED:
        if inbox is not None:
            raise BadQueryParameter("an album token has no inbox")
        return Source(album_id=album or principal.album_id)
    if (album is None) == (inbox is None):
        raise BadQueryParameter("give exactly one of album and inbox")
    return parse_source(album, inbox)


def require_study_share(principal: Principal, study_uid: str, source: Source) -> list[str]:
    """The series of a study shared from `source`: from an album, its SEND_SERIES (404, 403);
    every series read there, none read: 404."""
    if source.album_id:
        require_album_permission(principal, source.album_id, SEND_SERIES)
    visible = readable_series(principal, study_uid, source)
    if not visible:
        raise StudyNotFound("Study does not exist or you don't have access")
    return sorted(visible)


def require_study_send(sender: Principal, study_uid: str, source: Source) -> list[str]:
    """Every series of the study the sender may send from `source`: 404 when it reads none, 403
    when it reads some but may send none (KHEOPS's study-level answers)."""
    series = sendable_series(sender, study_uid, None, source)
    if not series:
        if readable_series(sender, study_uid, source):
            raise Forbidden("you may not send this study from where you read it")
        raise StudyNotFound("Study does not exist or you don't have access")
    return series


def series_send_or_claim(principal: Principal, sender: Principal | None, study_uid: str, series_uid: str) -> bool:
    """One series into a target (whose rights were checked): True when the sender (the
    `X-Authorization-Source` principal, else the caller) may send it (rule 4); False for a claim,
    a series not stored here without a source header (KHEOPS answers 201 and so does Obelisk); a
    stored series the sender may not send, or any with a source header: 404, as in KHEOPS."""
    if sendable_series(sender or principal, study_uid, series_uid):
        return True
    if sender is not None or facts().shares_of_study(study_uid, series_uid):
        raise SeriesNotFound("Series does not exist or you don't have access")
    return False


def removal_album(principal: Principal, study_uid: str, series_uid: str | None) -> str | None:
    """`DELETE /studies/{s}[/series/{se}]`: an album-scoped token removes from its album what it
    reads there (404 otherwise) with DELETE_SERIES (403), and this answers that album; a user-level
    token removes from its inbox when it may change things (403), and this answers None."""
    if principal.kind not in ALBUM_SCOPED:
        require_action(principal, CHANGE)
        return None
    visible = readable_series(principal, study_uid)
    if not visible or (series_uid and series_uid not in visible):
        raise (SeriesNotFound if series_uid else StudyNotFound)("not visible")
    require_album_permission(principal, principal.album_id, DELETE_SERIES)
    return principal.album_id
