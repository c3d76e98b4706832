"""Capability tokens (docs/kheops-compatibility.md §2.2): who sees one token, and who lists an
album's tokens. Creating, listing and revoking need a user's own sign-in (`MANAGE_CAPABILITIES`,
`tokens.py`); an album token's creation needs MANAGE_CAPABILITIES_TOKEN in its album (`albums.py`)."""
from __future__ import annotations

from chalicelib.auth.policy.albums import AlbumAccess, album_access
from chalicelib.auth.policy.tokens import MANAGE_CAPABILITIES, require_action
from chalicelib.auth.principals import Principal
from chalicelib.errors import CapabilityNotFound, Forbidden, NotFound


def capability_visible(principal: Principal, owner_sub: str, album_id: str | None) -> bool:
    """Its creator sees a capability token, and so do the admins of the album of an album token."""
    if owner_sub == principal.sub:
        return True
    if not album_id:
        return False
    try:
        return album_access(principal, album_id).is_admin
    except NotFound:
        return False


def require_capability_reader(principal: Principal, owner_sub: str, album_id: str | None) -> None:
    """One token by id: anyone but its creator and its album's admins gets 404, as for no token."""
    if not capability_visible(principal, owner_sub, album_id):
        raise CapabilityNotFound("no such capability token")


def require_capability_lister(principal: Principal, album_id: str | None) -> AlbumAccess | None:
    """Listing tokens: a user's own sign-in (403); an album's tokens, its admins only (404 for an
    album not reached, then 403)."""
    require_action(principal, MANAGE_CAPABILITIES)
    if not album_id:
        return None
    access = album_access(principal, album_id)
    if not access.is_admin:
        raise Forbidden("only album admins list the album's tokens")
    return access
