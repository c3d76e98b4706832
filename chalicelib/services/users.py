"""Users: registration (explicit or on first call), lookup by sub or e-mail."""
from __future__ import annotations

from pynamodb.exceptions import TransactWriteError

from chalicelib import clock
from chalicelib.errors import UserNotFound
from chalicelib.store.models import Album, AlbumFlags, AlbumMember, UserProfile, transact

INBOX_FLAGS = dict(
    add_user=False, download_series=True, send_series=True,
    delete_series=True, add_series=True, write_comments=False,
)


def get_user(sub: str) -> UserProfile | None:
    try:
        return UserProfile.get(*UserProfile.key(sub))
    except UserProfile.DoesNotExist:
        return None


def get_users(subs: list[str]) -> list[UserProfile]:
    """Profiles of many users in one BatchGetItem per hundred."""
    return list(UserProfile.batch_get([UserProfile.key(sub) for sub in set(subs)])) if subs else []


def find_user(reference: str) -> UserProfile:
    """A user by e-mail (when the reference holds `@`, case-insensitive) or by sub."""
    if "@" in reference:
        for user in UserProfile.by_email.query(reference.strip().lower(), limit=1):
            return user
        raise UserNotFound(f"no user {reference}")
    user = get_user(reference)
    if user is None:
        raise UserNotFound(f"no user {reference}")
    return user


def register(sub: str, email: str, name: str) -> UserProfile:
    """Creates the user with an inbox, or updates the profile. One transaction: a user never
    exists without an inbox."""
    existing = get_user(sub)
    if existing is not None:
        if (existing.email, existing.name) != (email, name) and (email or name):
            existing.update(actions=[
                UserProfile.email.set(email), UserProfile.email_lower.set(email.lower() or None),
                UserProfile.name.set(name),
            ])
        return existing
    moment = clock.local_iso()
    inbox_id = clock.random_id(10)
    user = UserProfile(*UserProfile.key(sub), sub=sub, email=email, email_lower=email.lower() or None,
                       name=name, inbox_id=inbox_id, created_at=moment)
    inbox = Album(*Album.key(inbox_id), album_id=inbox_id, name="inbox", is_inbox=True,
                  flags=AlbumFlags(**INBOX_FLAGS), created_time=moment, last_event_time=moment)
    membership = AlbumMember(*AlbumMember.key(inbox_id, sub), member_sub=sub, is_admin=True,
                             notification_new_series=False, notification_new_comment=False,
                             joined_at=moment)
    try:
        with transact() as transaction:
            transaction.save(user, condition=UserProfile.pk.does_not_exist())
            transaction.save(inbox, condition=Album.pk.does_not_exist())
            transaction.save(membership)
    except TransactWriteError:
        concurrent = get_user(sub)  # registered concurrently by another request: keep theirs
        if concurrent is None:
            raise
        return concurrent
    return user


def listing_order(user: UserProfile) -> tuple[str, str, str]:
    """How KHEOPS lists people (album members): by e-mail, then sub, then name."""
    return user.email or "", user.sub, user.name or ""


def user_response(user: UserProfile) -> dict[str, str]:
    return {"email": user.email, "name": user.name, "sub": user.sub}


def lookup(principal, reference: str | None, search: str | None, album_id: str | None) -> dict | list | None:
    """`GET /users`: one user by reference, or a search (3+ characters, case-insensitive, on e-mail
    and name) among the members of `album_id` or, without it, among the people the caller shares
    an album with: Obelisk does not let anyone enumerate every registered user."""
    from chalicelib.auth import policy
    from chalicelib.errors import BadQueryParameter
    from chalicelib.store import shares
    from chalicelib.store.models import AlbumMember

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
        body = user_response(user)
        if album_id:
            body["album_access"] = shares.membership(album_id, user.sub) is not None
        return body
    if len(search.strip()) < 3:
        raise BadQueryParameter("search needs at least 3 characters")
    album_ids = [album_id] if album_id else [a for a in shares.memberships(principal.sub) if a != principal.user.inbox_id]
    subs = {m.member_sub for a in album_ids for m in AlbumMember.query(f"ALBUM#{a}", AlbumMember.sk.startswith("MEMBER#"))}
    subs.discard(principal.sub)
    needle = search.strip().lower()
    found = [u for u in get_users(sorted(subs)) if needle in u.email.lower() or needle in u.name.lower()]
    return [user_response(u) for u in sorted(found, key=lambda u: u.email)]
