"""Research albums (docs/research-albums.md): where a series sent or stored into one is placed, and
who may add series to one."""
from __future__ import annotations

from chalicelib.auth.facts import facts
from chalicelib.auth.principals import (
    REPORT_PROVIDER,
    USER,
    USER_CAPABILITY,
    Principal,
)
from chalicelib.store import research
from chalicelib.store.models import AlbumMember


def share_target(album_id: str) -> str:
    """Where a series sent or stored into `album_id` is placed: a research album receives only
    de-identified copies, so the identified series goes to its intake, which nobody reads, and
    waits there for the de-identification worker (docs/research-albums.md)."""
    if research.is_intake(album_id):
        return album_id
    album = facts().album(album_id)
    return research.intake_id(album_id) if album is not None and album.research is not None else album_id

def research_adder(principal: Principal, membership: AlbumMember | None) -> bool:
    """Who may add series to a research album (docs/research-albums.md, who adds): its admins
    only, as users or through their user capabilities, or a report provider one of them launched.
    Whoever adds series there can learn the album's date shift and pseudonyms by storing what
    they know, so members never may, whatever the album's flags, nor the album's capability
    tokens and viewer tokens."""
    return principal.kind in (USER, USER_CAPABILITY, REPORT_PROVIDER) and bool(membership and membership.is_admin)
