"""Users: registration (explicit or on first call), lookup by sub or e-mail."""
from __future__ import annotations

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import clock
from chalicelib.errors import UserNotFound
from chalicelib.store.models import Album, AlbumFlags, AlbumMember, UserProfile

INBOX_FLAGS = dict(
    add_user=False, download_series=True, send_series=True,
    delete_series=True, add_series=True, write_comments=False,
)


def get_user(sub: str) -> UserProfile | None:
    try:
        return UserProfile.get(*UserProfile.key(sub))
    except UserProfile.DoesNotExist:
        return None


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
        with TransactWrite(connection=Connection(region=UserProfile.Meta.region)) as transaction:
            transaction.save(user, condition=UserProfile.pk.does_not_exist())
            transaction.save(inbox, condition=Album.pk.does_not_exist())
            transaction.save(membership)
    except TransactWriteError:
        concurrent = get_user(sub)  # registered concurrently by another request: keep theirs
        if concurrent is None:
            raise
        return concurrent
    return user


def user_response(user: UserProfile) -> dict[str, str]:
    return {"email": user.email, "name": user.name, "sub": user.sub}
