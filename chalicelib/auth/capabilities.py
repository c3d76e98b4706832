"""Capability tokens (docs/kheops-compatibility.md §2.2): 22-character secrets, stored only as SHA-256 hashes,
verified with one DynamoDB read."""
from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

from chalicelib import clock
from chalicelib.auth.principals import ALBUM_CAPABILITY, USER_CAPABILITY, Principal
from chalicelib.errors import Unauthenticated
from chalicelib.store.items import get_or_none
from chalicelib.store.models import Capability, UserProfile

SECRET = re.compile(r"^[A-Za-z0-9]{22}$")
LEEWAY = timedelta(seconds=5)
LAST_USED_RESOLUTION = timedelta(seconds=60)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def looks_like_capability(token: str) -> bool:
    return bool(SECRET.match(token))


def parse_time(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def is_valid(capability: Capability, moment: datetime | None = None) -> bool:
    moment = moment or clock.now()
    return (not capability.revoked and moment >= parse_time(capability.not_before_time) - LEEWAY
            and moment <= parse_time(capability.expiration_time) + LEEWAY)


def scope_of(capability: Capability) -> frozenset[str]:
    """The real flags (KHEOPS reported a full user scope for every user token: quirk 7, fixed)."""
    words = {"read": capability.read_permission, "write": capability.write_permission,
             "send": capability.appropriate_permission, "downloadbutton": capability.download_permission}
    return frozenset(w for w, granted in words.items() if granted)


def _touch(capability: Capability, moment: datetime) -> None:
    """Records `last_used`, at most once a minute per token (a write, not a read)."""
    if capability.last_used and moment - parse_time(capability.last_used) < LAST_USED_RESOLUTION:
        return
    try:
        capability.update(actions=[Capability.last_used.set(clock.utc_iso(moment))])
    except Exception:  # noqa: BLE001 - bookkeeping must never fail the caller's request
        pass


def valid_capability(digest: str, moment: datetime | None = None) -> Capability:
    """The capability stored under `digest` (the SHA-256 of its secret) while it is valid: one
    GetItem. 401 when unknown, revoked, expired or not yet valid."""
    capability = get_or_none(Capability, Capability.key(digest))
    if capability is None:
        raise Unauthenticated("unknown capability")
    if not is_valid(capability, moment):
        raise Unauthenticated("capability revoked or outside its validity window")
    return capability


def owner_of(capability: Capability) -> UserProfile:
    """The creator's profile as the capability recorded it (no further read)."""
    owner = capability.owner
    return UserProfile(*UserProfile.key(owner["sub"]), sub=owner["sub"], email=owner.get("email", ""),
                       name=owner.get("name", ""), inbox_id=owner["inbox_id"], created_at="")


def verify(token: str) -> Principal:
    moment = clock.now()
    capability = valid_capability(secret_hash(token), moment)
    _touch(capability, moment)
    user = owner_of(capability)
    kind = ALBUM_CAPABILITY if capability.scope_type == "album" else USER_CAPABILITY
    return Principal(kind=kind, user=user, scope=scope_of(capability), album_id=capability.album_id,
                     capability_id=capability.capability_id, capability_title=capability.title, token=token)
