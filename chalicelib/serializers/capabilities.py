"""A capability token as KHEOPS answers it (CapabilitiesResponse, docs/kheops-compatibility.md §2.2)."""
from __future__ import annotations

from collections.abc import Mapping

from chalicelib.store.models import Capability


def capability(capability: Capability, names: Mapping[str, str], secret: str | None = None) -> dict:
    """KHEOPS's CapabilitiesResponse; an album token's `album` has its `album_id` and its name in
    `names` (album id -> name, `services.capabilities.album_names`); `secret` only when created."""
    body = {
        "id": capability.capability_id, "token_type": "Bearer", "title": capability.title,
        "issued_at_time": capability.issued_at_time, "not_before_time": capability.not_before_time,
        "expiration_time": capability.expiration_time, "revoked": bool(capability.revoked),
        "scope_type": capability.scope_type,
    }
    if secret:
        body["secret"] = body["access_token"] = secret
    for optional in ("last_used", "revoke_time"):
        if getattr(capability, optional):
            body[optional] = getattr(capability, optional)
    if capability.revoked_by:
        body["revoked_by"] = capability.revoked_by
    if capability.scope_type == "album":
        body["album"] = {"album_id": capability.album_id,
                         **({"name": names[capability.album_id]} if capability.album_id in names else {})}
        body["created_by"] = {k: capability.owner[k] for k in ("email", "name", "sub")}
        for flag in ("read_permission", "write_permission", "download_permission", "appropriate_permission"):
            body[flag] = bool(getattr(capability, flag))
    else:
        body["read_permission"] = bool(capability.read_permission)
        body["write_permission"] = bool(capability.write_permission)
    return body
