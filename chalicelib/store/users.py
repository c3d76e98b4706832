"""Users: the profile repository (lookup by sub or e-mail, registration with the inbox and the
e-mail claim). E-mail addresses are verified by the identity provider and unique in Obelisk
(`docs/identity.md`). Authentication (`auth/`), the services and the webhook payloads all find
users here."""
from __future__ import annotations

from pynamodb.exceptions import TransactWriteError

from chalicelib import clock
from chalicelib.errors import EmailNotVerified, EmailTaken, UserNotFound
from chalicelib.store.items import get_or_none as _get_or_none
from chalicelib.store.models import Album, AlbumFlags, AlbumMember, EmailClaim, UserProfile, transact

INBOX_FLAGS = dict(
    add_user=False, download_series=True, send_series=True,
    delete_series=True, add_series=True, write_comments=False,
)


def get_or_none(sub: str) -> UserProfile | None:
    return _get_or_none(UserProfile, UserProfile.key(sub))


def get_many(subs: list[str]) -> list[UserProfile]:
    """Profiles of many users in one BatchGetItem per hundred."""
    return list(UserProfile.batch_get([UserProfile.key(sub) for sub in set(subs)])) if subs else []


def by_reference(reference: str) -> UserProfile:
    """A user by e-mail (when the reference holds `@`, case-insensitive) or by sub. An e-mail
    resolves through its `EmailClaim`, the one holder of that address: never a pick among
    profiles that happen to show the same address."""
    if "@" in reference:
        claim = _get_or_none(EmailClaim, EmailClaim.key(reference), consistent_read=True)
        user = get_or_none(claim.owner_sub) if claim else None
        if user is None or user.email_lower != reference.strip().lower():
            raise UserNotFound(f"no user {reference}")
        return user
    user = get_or_none(reference)
    if user is None:
        raise UserNotFound(f"no user {reference}")
    return user


def register(sub: str, email: str, name: str, *, email_verified: bool) -> UserProfile:
    """Creates the user with an inbox, or updates the profile. Only a verified e-mail is ever
    stored, and only while no other user holds it (`EmailClaim`, in the same transaction):
    - a new user without a verified e-mail is refused (`EmailNotVerified`, 403);
    - a known user whose provider reports an unverified e-mail keeps the e-mail stored before
      (verified then); only the name changes;
    - an e-mail another user holds is refused (`EmailTaken`, 409) and nothing changes.
    A user never exists without an inbox."""
    email = email.strip() if email_verified else ""
    existing = get_or_none(sub)
    if existing is None:
        if not email:
            raise EmailNotVerified(
                "the identity provider has not verified this user's e-mail address: verify it, then sign in again")
        return _create(sub, email, name)
    return _update(existing, email, name)


def _create(sub: str, email: str, name: str) -> UserProfile:
    moment = clock.local_iso()
    inbox_id = clock.random_id(10)
    user = UserProfile(*UserProfile.key(sub), sub=sub, email=email, email_lower=email.lower(),
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
            _claim(transaction, email, sub)
    except TransactWriteError:
        concurrent = get_or_none(sub)  # registered concurrently by another request: keep theirs
        if concurrent is not None:
            return concurrent
        _refuse_if_taken(email, sub)
        raise
    return user


def _update(existing: UserProfile, email: str, name: str) -> UserProfile:
    """The profile brought to the provider's verified e-mail and name (the claim is renewed
    even when the e-mail is unchanged, so profiles written before claims existed get theirs)."""
    actions = []
    if email and email != existing.email:
        actions += [UserProfile.email.set(email), UserProfile.email_lower.set(email.lower())]
    if name and name != existing.name:
        actions.append(UserProfile.name.set(name))
    if not email and not actions:
        return existing
    try:
        with transact() as transaction:
            if email:
                _claim(transaction, email, existing.sub)
            if existing.email_lower and email and existing.email_lower != email.lower():
                transaction.delete(EmailClaim(*EmailClaim.key(existing.email_lower)),
                                   condition=EmailClaim.pk.does_not_exist() | (EmailClaim.owner_sub == existing.sub))
            if actions:
                transaction.update(existing, actions=actions, condition=UserProfile.pk.exists())
    except TransactWriteError:
        _refuse_if_taken(email, existing.sub)
        raise
    return get_or_none(existing.sub) if actions else existing


def _claim(transaction, email: str, sub: str) -> None:
    transaction.save(EmailClaim(*EmailClaim.key(email), owner_sub=sub),
                     condition=EmailClaim.pk.does_not_exist() | (EmailClaim.owner_sub == sub))


def _refuse_if_taken(email: str, sub: str) -> None:
    claim = _get_or_none(EmailClaim, EmailClaim.key(email), consistent_read=True)
    if claim is not None and claim.owner_sub != sub:
        raise EmailTaken(f"the e-mail address {email} belongs to another Obelisk user")
