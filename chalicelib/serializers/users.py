"""A user as KHEOPS shows one: `{email, name, sub}`, and `is_admin` where an album is in question
(docs/kheops-compatibility.md: album members, events, comments, webhook payloads, `/userinfo`)."""
from __future__ import annotations

from collections.abc import Mapping

from chalicelib.store.models import UserProfile


def user(profile: UserProfile) -> dict[str, str]:
    return {"email": profile.email, "name": profile.name, "sub": profile.sub}


def user_or_sub(profiles: Mapping[str, UserProfile], sub: str) -> dict[str, str]:
    """The user of `sub` among `profiles`, or `{sub}` alone when they are not registered (any more)."""
    return user(profiles[sub]) if sub in profiles else {"sub": sub}


def member(profile: UserProfile | None, sub: str, is_admin: bool | None = None) -> dict:
    """`{email, name, sub}` (empty texts for an unknown sub) and, when given, `is_admin`."""
    body: dict = {"email": "", "name": "", "sub": sub} if profile is None else user(profile)
    if is_admin is not None:
        body["is_admin"] = bool(is_admin)
    return body
