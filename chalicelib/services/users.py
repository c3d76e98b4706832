"""Users as the API shows them: listing order, and `GET /users` (lookup and
search among the people the caller shares an album with). The profiles themselves, registration
and lookup by sub or e-mail live in `store/users.py` (re-exported here under their service names)."""
from __future__ import annotations

from chalicelib.auth import policy
from chalicelib.errors import BadQueryParameter, UserNotFound
from chalicelib.serializers import users as user_json
from chalicelib.store import albums, shares
from chalicelib.store.models import UserProfile
from chalicelib.store.users import by_reference as find_user
from chalicelib.store.users import get_many as get_users
from chalicelib.store.users import get_or_none as get_user
from chalicelib.store.users import register

__all__ = ["find_user", "get_user", "get_users", "listing_order", "lookup", "register"]


def listing_order(user: UserProfile) -> tuple[str, str, str]:
    """How KHEOPS lists people (album members): by e-mail, then sub, then name."""
    return user.email or "", user.sub, user.name or ""


def lookup(principal, reference: str | None, search: str | None, album_id: str | None) -> dict | list | None:
    """`GET /users`: one user by reference, or a search (3+ characters, case-insensitive, on e-mail
    and name) among the members of `album_id` or, without it, among the people the caller shares
    an album with: Obelisk does not let anyone enumerate every registered user."""
    policy.require_user_access(principal)
    if (reference is None) == (search is None):
        raise BadQueryParameter("give exactly one of reference and search")
    if album_id:
        policy.require_album_permission(principal, album_id, policy.LIST_USERS)
    if reference is not None:
        try:
            user = find_user(reference)
        except UserNotFound:
            return None
        body = user_json.user(user)
        if album_id:
            body["album_access"] = shares.membership(album_id, user.sub) is not None
        return body
    if len(search.strip()) < 3:
        raise BadQueryParameter("search needs at least 3 characters")
    album_ids = [album_id] if album_id else [a for a in shares.memberships(principal.sub) if a != principal.user.inbox_id]
    subs = {sub for a in album_ids for sub in albums.member_subs(a)}
    subs.discard(principal.sub)
    needle = search.strip().lower()
    found = [u for u in get_users(sorted(subs)) if needle in u.email.lower() or needle in u.name.lower()]
    return [user_json.user(u) for u in sorted(found, key=lambda u: u.email)]
