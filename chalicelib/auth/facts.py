"""The facts the permission policy decides from, and where it reads them.

The policy (`auth/policy/`) is a set of decisions over a few facts: a user's memberships, one
membership, an album's flags, which albums hold a study's series, what an album holds, a reporting
site. It reads them through the reader in use: `StoreFacts` (the tables, one DynamoDB request per
call, as the policy always read them, so its request budget is unchanged) unless a caller or a
test puts another one in place with `using(...)`, e.g. a `FactsValue` built in memory, with which
every decision runs without a database (tests/unit/test_policy.py)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Protocol

from chalicelib.store import report_sites, shares
from chalicelib.store.items import get_or_none
from chalicelib.store.models import Album, AlbumMember, ReportSite, SeriesShare


class Facts(Protocol):
    """What the policy asks. Each call of `StoreFacts` costs one DynamoDB request."""

    def memberships(self, sub: str) -> dict[str, AlbumMember]:
        """Every album the user belongs to (their inbox included), by album id."""

    def membership(self, album_id: str, sub: str) -> AlbumMember | None: ...

    def album(self, album_id: str) -> Album | None: ...

    def shares_of_study(self, study_uid: str, series_uid: str | None = None) -> list[SeriesShare]:
        """Every (album, series) placement of a study, or of one of its series."""

    def shares_in_album(self, album_id: str, study_uid: str | None = None) -> list[SeriesShare]: ...

    def site(self, site_id: str) -> ReportSite | None: ...


class StoreFacts:
    """The facts as the tables hold them."""

    memberships = staticmethod(shares.memberships)
    membership = staticmethod(shares.membership)
    shares_of_study = staticmethod(shares.shares_of_study)
    shares_in_album = staticmethod(shares.shares_in_album)

    @staticmethod
    def album(album_id: str) -> Album | None:
        return get_or_none(Album, Album.key(album_id))

    site = staticmethod(report_sites.get_or_none)


@dataclass
class FactsValue:
    """Facts held in memory: albums (inboxes included), memberships, placements, sites."""

    albums: dict[str, Album] = field(default_factory=dict)
    members: dict[tuple[str, str], AlbumMember] = field(default_factory=dict)  # (album, sub) -> membership
    placements: list[SeriesShare] = field(default_factory=list)
    sites: dict[str, ReportSite] = field(default_factory=dict)

    def memberships(self, sub: str) -> dict[str, AlbumMember]:
        return {album: m for (album, who), m in self.members.items() if who == sub}

    def membership(self, album_id: str, sub: str) -> AlbumMember | None:
        return self.members.get((album_id, sub))

    def album(self, album_id: str) -> Album | None:
        return self.albums.get(album_id)

    def shares_of_study(self, study_uid: str, series_uid: str | None = None) -> list[SeriesShare]:
        return [s for s in self.placements if s.study_uid == study_uid and series_uid in (None, s.series_uid)]

    def shares_in_album(self, album_id: str, study_uid: str | None = None) -> list[SeriesShare]:
        return [s for s in self.placements if s.album_id == album_id and study_uid in (None, s.study_uid)]

    def site(self, site_id: str) -> ReportSite | None:
        return self.sites.get(site_id)


STORE = StoreFacts()
_IN_USE: ContextVar[Facts] = ContextVar("policy_facts", default=STORE)


def facts() -> Facts:
    """The reader the policy uses now."""
    return _IN_USE.get()


class WithMemberships(StoreFacts):
    """The tables, but for one user's memberships, read already: authentication reads them at the
    same time as the user's profile on routes that will ask (`memberships_read_early`), one round
    trip instead of two. Decisions are the policy's, from the same facts."""

    def __init__(self):
        self.known: tuple[str, dict[str, AlbumMember]] | None = None

    def memberships(self, sub: str) -> dict[str, AlbumMember]:
        if self.known is not None and self.known[0] == sub:
            return dict(self.known[1])
        return shares.memberships(sub)


@contextmanager
def memberships_read_early() -> Iterator[WithMemberships]:
    """Within the block (one request), the user's memberships may be read with their profile
    (`early_memberships`, `remember_memberships`) and answer the policy's question."""
    with using(WithMemberships()) as reader:
        yield reader


def early_memberships() -> WithMemberships | None:
    """The reader waiting for the memberships, inside `memberships_read_early`; else None."""
    reader = facts()
    return reader if isinstance(reader, WithMemberships) and reader.known is None else None


@contextmanager
def using(reader: Facts) -> Iterator[Facts]:
    """Decide from `reader` within the block (tests; a caller holding the facts already)."""
    token = _IN_USE.set(reader)
    try:
        yield reader
    finally:
        _IN_USE.reset(token)
