"""Who may do what in Obelisk: a small reference model over plain sets.

It encodes the INTENDED semantics (docs/security.md, docs/tokens.md, KHEOPS's album permission
table), not the code: the stateful test (tests/integration/test_permission_model.py) drives the
real stack and this model side by side and reports every answer on which they differ.

Every question is a pure function of a `World`; every change is a small method on it. A reviewer
should be able to check each function against one sentence of docs/security.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field

USERS = ("alice", "bob", "carol")
FLAGS = ("addUser", "downloadSeries", "sendSeries", "deleteSeries", "addSeries", "writeComments")
DEFAULT_FLAGS = {"addUser": False, "downloadSeries": True, "sendSeries": True, "deleteSeries": False,
                 "addSeries": True, "writeComments": True}
USER_SCOPE = frozenset({"read", "write", "send", "download"})

Series = tuple[str, str]  # (study UID, series UID)


def inbox(user: str) -> str:
    return f"inbox:{user}"


@dataclass
class Album:
    flags: dict[str, bool]
    members: set[str]
    admins: set[str]


@dataclass
class Capability:
    creator: str
    album: str | None  # None: a user capability
    flags: frozenset[str]  # read, write, send (KHEOPS "appropriate"), download
    revoked: bool = False


@dataclass
class Viewer:
    """A token-exchange viewer token: one study, a source, a scope within {read, write}."""
    subject: Principal  # a user or a capability
    study: str
    source: str | None  # None, inbox(user) or an album id
    scope: frozenset[str]


@dataclass
class Comment:
    study: str
    author: str
    text: str
    series: frozenset[Series]  # what the author read of the study when posting
    to_user: str | None = None  # private: seen by author and target only


@dataclass(frozen=True)
class Principal:
    kind: str  # user | user_capability | album_capability | viewer
    id: str  # user name, capability id or viewer id


def user(name: str) -> Principal:
    return Principal("user", name)


@dataclass
class World:
    albums: dict[str, Album] = field(default_factory=dict)  # user inboxes included
    holders: dict[Series, set[str]] = field(default_factory=dict)  # series -> albums holding it
    instances: dict[Series, dict[str, str]] = field(default_factory=dict)  # series -> {SOP: identity}
    capabilities: dict[str, Capability] = field(default_factory=dict)
    viewers: dict[str, Viewer] = field(default_factory=dict)
    comments: list[Comment] = field(default_factory=list)

    def __post_init__(self):
        for name in USERS:
            self.albums[inbox(name)] = Album({}, {name}, set())

    # ---- who the principal is ------------------------------------------------------------

    def acting_user(self, p: Principal) -> str:
        if p.kind == "user":
            return p.id
        if p.kind == "viewer":
            return self.acting_user(self.viewers[p.id].subject)
        return self.capabilities[p.id].creator

    def alive(self, p: Principal) -> bool:
        """Capabilities die when revoked or when an album capability's creator is no longer an
        admin of its album; viewer tokens die with their source."""
        if p.kind == "user":
            return True
        if p.kind == "viewer":
            return self.alive(self.viewers[p.id].subject)
        cap = self.capabilities[p.id]
        if cap.revoked:
            return False
        return cap.album is None or (cap.album in self.albums and cap.creator in self.albums[cap.album].admins)

    def scope(self, p: Principal) -> frozenset[str]:
        if not self.alive(p):
            return frozenset()
        if p.kind == "user":
            return USER_SCOPE
        if p.kind == "viewer":
            return self.viewers[p.id].scope
        flags = self.capabilities[p.id].flags
        if p.kind == "user_capability":  # KHEOPS's user capabilities hold read and write only;
            flags = flags & {"read", "write"}  # sending takes both, downloading is never theirs
            return flags | ({"send"} if {"read", "write"} <= flags else frozenset())
        return flags

    def user_level(self, p: Principal) -> bool:
        """User tokens and user capabilities reach user-level endpoints (albums, sharing, inbox)."""
        return p.kind in ("user", "user_capability") and self.alive(p)

    def may_change(self, p: Principal) -> bool:
        """State changes by a user or a user capability need `write` (docs/security.md)."""
        return self.user_level(p) and "write" in self.scope(p)

    # ---- reading -------------------------------------------------------------------------

    def member_albums(self, name: str) -> set[str]:
        return {a for a, album in self.albums.items() if name in album.members}

    def reading_albums(self, p: Principal) -> set[str]:
        """The albums through which p reads series."""
        if "read" not in self.scope(p):
            return set()
        if p.kind in ("user", "user_capability"):
            return self.member_albums(self.acting_user(p))
        if p.kind == "album_capability":
            return {self.capabilities[p.id].album}
        viewer = self.viewers[p.id]
        inner = self._subject_albums(viewer.subject)
        return inner if viewer.source is None else inner & {viewer.source}

    def _subject_albums(self, subject: Principal) -> set[str]:
        """What a viewer's subject reads, its own read flag aside (the viewer's scope decides)."""
        if subject.kind == "album_capability":
            return {self.capabilities[subject.id].album}
        return self.member_albums(self.acting_user(subject))

    def readable(self, p: Principal) -> set[Series]:
        albums = self.reading_albums(p)
        pinned = self.viewers[p.id].study if p.kind == "viewer" else None
        return {s for s, held in self.holders.items() if held & albums and pinned in (None, s[0])}

    def readable_in(self, p: Principal, study: str) -> set[Series]:
        return {s for s in self.readable(p) if s[0] == study}

    def readable_instances(self, p: Principal, study: str) -> dict[str, str]:
        return {sop: who for s in self.readable_in(p, study) for sop, who in self.instances.get(s, {}).items()}

    def identities_seen(self, p: Principal, study: str) -> set[str]:
        """Whose identity (PatientName, StudyDescription, ...) may appear in p's answers about a study."""
        return set(self.readable_instances(p, study).values())

    def visible_albums(self, p: Principal) -> set[str]:
        """`GET /albums`: user-level principals with read list their albums (never the inbox)."""
        if not self.user_level(p) or "read" not in self.scope(p):
            return set()
        return {a for a in self.member_albums(self.acting_user(p)) if not a.startswith("inbox:")}

    # ---- album permissions (KHEOPS table; false on the inbox) ------------------------------

    def album_allows(self, p: Principal, album_id: str, permission: str) -> bool:
        """`permission` is an album flag name or `admin`."""
        if album_id.startswith("inbox:") or album_id not in self.albums:
            return False
        album = self.albums[album_id]
        if p.kind == "album_capability":
            cap = self.capabilities[p.id]
            needs = {"sendSeries": {"read", "send"}, "downloadSeries": {"read", "download"},
                     "addSeries": {"write"}, "deleteSeries": {"read", "write"}}.get(permission)
            return cap.album == album_id and needs is not None and needs <= self.scope(p)
        if not self.user_level(p):
            return False
        name = self.acting_user(p)
        if name not in album.members:
            return False
        return name in album.admins or (permission != "admin" and album.flags[permission])

    def sending_albums(self, p: Principal) -> set[str]:
        """Albums p reads through that let series leave: the inbox always, albums by SEND_SERIES."""
        if p.kind == "viewer" or "send" not in self.scope(p):
            return set()
        if p.kind == "user_capability" and "write" not in self.scope(p):
            return set()
        return {a for a in self.reading_albums(p) if a.startswith("inbox:") or self.album_allows(p, a, "sendSeries")}

    def may_send(self, p: Principal, series: Series) -> bool:
        return bool(self.holders.get(series, set()) & self.sending_albums(p))

    def downloadable(self, p: Principal, study: str, album_id: str | None = None) -> set[Series]:
        """Series a zip may contain: `download` scope, read through an album granting DOWNLOAD_SERIES."""
        if "download" not in self.scope(p) or p.kind == "viewer":
            return set()
        granting = {a for a in self.reading_albums(p)
                    if a.startswith("inbox:") or self.album_allows(p, a, "downloadSeries")}
        if album_id is not None:
            granting &= {album_id}
        return {s for s in self.readable_in(p, study) if self.holders[s] & granting}

    def comments_seen(self, p: Principal, study: str) -> set[str]:
        """Comments, for user-level tokens with read of a reader of the study: its own; others'
        when the reader reads every series their author read when posting, a private one only
        by its target."""
        reading = self.readable_in(p, study)
        if not self.user_level(p) or not reading:
            return set()
        name = self.acting_user(p)
        return {c.text for c in self.comments if c.study == study and (
            c.author == name or (c.to_user in (None, name) and c.series <= reading))}

    def may_read_events(self, p: Principal, album_id: str) -> bool:
        return self.user_level(p) and "read" in self.scope(p) and self.acting_user(p) in self.albums[album_id].members

    # ---- changes: each returns whether it is allowed (and applies it when it is) -----------

    def _place(self, series: Series, album_id: str) -> None:
        self.holders.setdefault(series, set()).add(album_id)

    def _unplace(self, series: Series, album_id: str) -> None:
        held = self.holders.get(series, set())
        held.discard(album_id)
        if not held:  # orphan: its instances are purged
            self.holders.pop(series, None)
            self.instances.pop(series, None)

    def store(self, p: Principal, series: Series, sop: str, identity: str) -> bool:
        """STOW of one instance into the caller's inbox: a new or orphan series starts empty; a
        series held elsewhere grows only where the caller reads it already, or when the caller
        may send it there (a STOW would otherwise copy it out of albums that keep it)."""
        if not self.may_change(p):
            return False
        target = inbox(self.acting_user(p))
        if series in self.holders and not (
                (target in self.holders[series] and series in self.readable(p)) or self.may_send(p, series)):
            return False
        self.instances.setdefault(series, {})[sop] = identity
        self._place(series, inbox(self.acting_user(p)))
        return True

    def share_series(self, p: Principal, series: Series, target: str) -> bool:
        if not self.may_send(p, series):
            return False
        self._place(series, inbox(target))
        return True

    def share_study(self, p: Principal, study: str, target: str, source: str) -> bool:
        """`PUT /studies/{s}/users/{u}` from one source (an inbox or an album)."""
        if source not in self.sending_albums(p):
            return False
        sent = {s for s in self.readable_in(p, study) if source in self.holders[s]}
        for series in sent:
            self._place(series, inbox(target))
        return bool(sent)

    def add_series_to_album(self, p: Principal, series: Series, album_id: str) -> bool:
        if series not in self.holders:  # a claim of a series not stored here: 201, nothing stored
            return self.user_level(p) and "send" in self.scope(p) and self.album_allows(p, album_id, "addSeries")
        if not (self.may_change(p) and self.may_send(p, series) and self.album_allows(p, album_id, "addSeries")):
            return False
        self._place(series, album_id)
        return True

    def remove_from_inbox(self, p: Principal, series: Series) -> bool:
        box = inbox(self.acting_user(p))
        if not self.may_change(p) or box not in self.holders.get(series, set()):
            return False
        self._unplace(series, box)
        return True

    def remove_from_album(self, p: Principal, series: Series, album_id: str) -> bool:
        if not (self.may_change(p) and self.album_allows(p, album_id, "deleteSeries")):
            return False
        if album_id not in self.holders.get(series, set()):
            return False
        self._unplace(series, album_id)
        return True

    def create_album(self, p: Principal, album_id: str, flags: dict[str, bool]) -> bool:
        if not self.may_change(p):
            return False
        name = self.acting_user(p)
        self.albums[album_id] = Album(dict(flags), {name}, {name})
        return True

    def edit_flags(self, p: Principal, album_id: str, flags: dict[str, bool]) -> bool:
        if not (self.may_change(p) and self.album_allows(p, album_id, "admin")):
            return False
        self.albums[album_id].flags.update(flags)
        return True

    def add_member(self, p: Principal, album_id: str, name: str) -> bool:
        if not (self.may_change(p) and self.album_allows(p, album_id, "addUser")):
            return False
        self.albums[album_id].members.add(name)
        return True

    def set_admin(self, p: Principal, album_id: str, name: str, admin: bool) -> bool:
        """Promote (adds the user when needed) or demote; demoting kills the user's album capabilities."""
        if not (self.may_change(p) and self.album_allows(p, album_id, "admin")):
            return False
        album = self.albums[album_id]
        if admin:
            album.members.add(name)
            album.admins.add(name)
        elif name in album.members:
            album.admins.discard(name)
        else:
            return False
        return True

    def remove_member(self, p: Principal, album_id: str, name: str) -> bool:
        """Leaving, or an admin removing someone; the last member out deletes the album."""
        if not self.may_change(p) or album_id.startswith("inbox:") or album_id not in self.albums:
            return False
        album, actor = self.albums[album_id], self.acting_user(p)
        if actor not in album.members or name not in album.members or (name != actor and actor not in album.admins):
            return False
        album.members.discard(name)
        album.admins.discard(name)
        if not album.members:
            self._drop_album(album_id)
        return True

    def delete_album(self, p: Principal, album_id: str) -> bool:
        if not (self.may_change(p) and self.album_allows(p, album_id, "admin")):
            return False
        self._drop_album(album_id)
        return True

    def _drop_album(self, album_id: str) -> None:
        for series in [s for s, held in self.holders.items() if album_id in held]:
            self._unplace(series, album_id)
        del self.albums[album_id]

    def create_capability(self, creator: str, cap_id: str, album_id: str | None, flags: frozenset[str]) -> bool:
        """Users create capabilities with their own token; album capabilities need album admin.
        `send` and `download` need `read`."""
        if ({"send", "download"} & flags and "read" not in flags) or (
                album_id is not None and not self.album_allows(user(creator), album_id, "admin")):
            return False
        self.capabilities[cap_id] = Capability(creator, album_id, flags)
        return True

    def revoke(self, by: str, cap_id: str) -> bool:
        cap = self.capabilities[cap_id]
        if by != cap.creator and not (cap.album and self.album_allows(user(by), cap.album, "admin")):
            return False
        cap.revoked = True
        return True

    def exchange(self, subject: Principal, viewer_id: str, study: str, source: str | None,
                 words: frozenset[str]) -> bool:
        """Token exchange: scope = requested words in {read, write} the subject holds for the study
        in the source: none outside its own sources (an album it is not in, or gone), `read` only
        when it reads the study there; none left: refused."""
        if subject.kind not in ("user", "user_capability", "album_capability") or not self.alive(subject):
            return False
        scope = words & {"read", "write"} & self.scope(subject)
        if subject.kind == "album_capability":
            if source not in (None, self.capabilities[subject.id].album):
                return False
            source = self.capabilities[subject.id].album
        own = self._subject_albums(subject) if source is None else self._subject_albums(subject) & {source}
        if not own:
            scope = frozenset()
        if not any(held & own for s, held in self.holders.items() if s[0] == study):
            scope -= {"read"}
        if not scope:
            return False
        self.viewers[viewer_id] = Viewer(subject, study, source, scope)
        return True

    def comment(self, p: Principal, study: str, text: str, to_user: str | None) -> bool:
        """Study comments: user-level tokens with write, by readers of the study; a private
        comment's target must read every series its author reads."""
        if not (self.may_change(p) and self.readable_in(p, study)):
            return False
        if to_user is not None and not self.readable_in(p, study) <= self.readable_in(user(to_user), study):
            return False
        self.comments.append(Comment(study, self.acting_user(p), text, frozenset(self.readable_in(p, study)), to_user))
        return True
