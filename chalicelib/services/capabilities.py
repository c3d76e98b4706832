"""Capability tokens: create, list, get, revoke (docs/kheops-compatibility.md §2.2). Only a user's own sign-in
token manages them (403 otherwise, policy.MANAGE_CAPABILITIES); the secret is shown once and stored only as a hash."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from chalicelib import booleans, clock
from chalicelib.auth import capabilities, policy
from chalicelib.auth.principals import Principal
from chalicelib.errors import BadFormParameter, BadQueryParameter, CapabilityNotFound
from chalicelib.serializers import users as user_json
from chalicelib.services import users
from chalicelib.store import albums
from chalicelib.store.items import get_or_none
from chalicelib.store.models import Album, AlbumCapability, Capability, CapabilityPointer, transact

DEFAULT_LIFETIME = timedelta(days=91)  # KHEOPS: plusMonths(3)


def _parse_time(value: str | None, name: str, default: datetime) -> datetime:
    if not value:
        return default
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise BadFormParameter(f"{name} is not an ISO-8601 date-time") from error
    if moment.tzinfo is None:
        raise BadFormParameter(f"{name} needs a UTC offset, e.g. 2026-01-31T00:00:00Z")
    return moment.astimezone(UTC)


PERMISSION_FIELDS = ("read_permission", "write_permission", "appropriate_permission", "download_permission")


@dataclass(frozen=True)
class CapabilityForm:
    """The fields of `POST /capabilities` as sent (None or absent from `permissions`: not sent),
    validated by `create` after the caller's right to make tokens."""

    title: str | None = None
    scope_type: str | None = None
    album: str | None = None
    permissions: Mapping[str, str] = field(default_factory=dict)  # PERMISSION_FIELDS -> value
    not_before_time: str | None = None
    expiration_time: str | None = None


def _flag(form: CapabilityForm, name: str) -> bool:
    return booleans.parse(form.permissions.get(name) or None, name, False, BadFormParameter)


def create(principal: Principal, form: CapabilityForm) -> tuple[Capability, str]:
    """The new capability and its secret (the only time the secret exists outside the caller)."""
    policy.require_action(principal, policy.MANAGE_CAPABILITIES)
    title = (form.title or "").strip()
    if not 1 <= len(title) <= 255:
        raise BadFormParameter("title is required (at most 255 characters)")
    scope_type = form.scope_type
    if scope_type not in ("user", "album"):
        raise BadFormParameter("scope_type must be user or album")
    flags = {n: _flag(form, n) for n in PERMISSION_FIELDS}
    if (flags["appropriate_permission"] or flags["download_permission"]) and not flags["read_permission"]:
        raise BadFormParameter("appropriate_permission and download_permission need read_permission")
    album_id = None
    if scope_type == "album":
        album_id = form.album
        if not album_id:
            raise BadFormParameter("album is required for an album token")
        policy.require_album_permission(principal, album_id, policy.MANAGE_CAPABILITIES_TOKEN)
    else:
        flags["appropriate_permission"] = flags["download_permission"] = False
    now = clock.now()
    not_before = _parse_time(form.not_before_time, "not_before_time", now)
    expires = _parse_time(form.expiration_time, "expiration_time", now + DEFAULT_LIFETIME)
    if expires <= not_before or expires <= now:
        raise BadFormParameter("expiration_time must be in the future and after not_before_time")
    secret = clock.random_id(22)
    digest = capabilities.secret_hash(secret)
    user = principal.user
    capability = Capability(
        *Capability.key(digest), capability_id=clock.random_id(10), title=title, scope_type=scope_type,
        album_id=album_id, owner_sub=user.sub,
        owner={"sub": user.sub, "email": user.email, "name": user.name, "inbox_id": user.inbox_id},
        issued_at_time=clock.utc_iso(now), not_before_time=clock.utc_iso(not_before),
        expiration_time=clock.utc_iso(expires), **flags,
    )
    with transact() as transaction:
        transaction.save(capability, condition=Capability.pk.does_not_exist())
        transaction.save(CapabilityPointer(*CapabilityPointer.key(capability.capability_id), secret_hash=digest),
                         condition=CapabilityPointer.pk.does_not_exist())
        if album_id:
            transaction.save(AlbumCapability(*AlbumCapability.key(album_id, capability.capability_id),
                                             secret_hash=digest, creator_sub=user.sub))
    return capability, secret


def _by_id(capability_id: str) -> Capability:
    pointer = get_or_none(CapabilityPointer, CapabilityPointer.key(capability_id))
    capability = None if pointer is None else get_or_none(Capability, Capability.key(pointer.secret_hash))
    if capability is None:
        raise CapabilityNotFound("no such capability token")
    return capability


def _visible(principal: Principal, capability_id: str) -> Capability:
    """The token, to its creator or an admin of its album (`policy.require_capability_reader`); 404 to anyone else."""
    capability = _by_id(capability_id)
    policy.require_capability_reader(principal, capability.owner_sub, capability.album_id)
    return capability


def get(principal: Principal, capability_id: str) -> Capability:
    policy.require_action(principal, policy.READ_CAPABILITY)
    return _visible(principal, capability_id)


def revoke(principal: Principal, capability_id: str) -> Capability:
    policy.require_action(principal, policy.MANAGE_CAPABILITIES)
    capability = _visible(principal, capability_id)
    if not capability.revoked and capabilities.is_valid(capability):
        capability.update(actions=[
            Capability.revoked.set(True), Capability.revoke_time.set(clock.utc_iso()),
            Capability.revoked_by.set(user_json.user(principal.user)),
        ])
    return capability


def revoke_created_by(sub: str | None, album_id: str, actor: Principal) -> int:
    """Revokes the album tokens `sub` created in the album (when demoted or removed), or all of
    the album's tokens when `sub` is None (when the album is deleted)."""
    revoked = 0
    for link in albums.capability_links(album_id):
        if sub is not None and link.creator_sub != sub:
            continue
        capability = Capability.get(*Capability.key(link.secret_hash))
        if not capability.revoked:
            capability.update(actions=[
                Capability.revoked.set(True), Capability.revoke_time.set(clock.utc_iso()),
                Capability.revoked_by.set(user_json.user(actor.user)),
            ])
            revoked += 1
    return revoked


def list_capabilities(principal: Principal, valid_only: bool, album_id: str | None,
                      user_filter: str | None) -> list[Capability]:
    policy.require_capability_lister(principal, album_id)
    if album_id:
        links = albums.capability_links(album_id)
        found = list(Capability.batch_get([Capability.key(link.secret_hash) for link in links]))
        if user_filter:
            creator = users.find_user(user_filter)
            found = [c for c in found if c.owner_sub == creator.sub]
    else:
        if user_filter:
            raise BadQueryParameter("user filters only album tokens (with album=)")
        found = list(Capability.by_owner.query(principal.sub))
    if valid_only:
        found = [c for c in found if capabilities.is_valid(c)]
    return sorted(found, key=lambda c: c.issued_at_time, reverse=True)


def album_names(found: list[Capability]) -> dict[str, str]:
    """The names of the albums of album capabilities, in one BatchGetItem per hundred."""
    keys = {Album.key(c.album_id) for c in found if c.album_id}
    return {a.album_id: a.name for a in Album.batch_get(list(keys))} if keys else {}
