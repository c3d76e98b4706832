"""What a token may do at all, before any resource is looked at (docs/semantics.md 6, 7): the one
table of actions, the kinds of token taking each and the scope words each kind needs."""
from __future__ import annotations

from chalicelib.auth.principals import (
    ALBUM_CAPABILITY,
    REPORT_PROVIDER,
    USER,
    USER_CAPABILITY,
    VIEWER,
    Principal,
)
from chalicelib.errors import Forbidden

ALBUM_SCOPED = (ALBUM_CAPABILITY, REPORT_PROVIDER)  # tokens bound to one album


# ---- what a token may do at all (semantics.md 6, 7) -----------------------------------------
# One table: for each action, the kinds of token that may take it and the scope words (capability
# flags) each kind needs. A kind absent from an action's row never takes it (403). Album
# permissions of user-level tokens are bound by the same words (`_user_permission_scope`).

READ = "read"  # series and study reads
READ_COMMENTS = "read comments"  # study comments and album events
CHANGE = "change"  # user-level state changes: albums, members, favorites, comments, webhooks, launches
SEND = "send"  # sending series to a user or an album, appropriating
MANAGE_CAPABILITIES = "manage capabilities"  # create, list, revoke capability tokens: own sign-in only
READ_CAPABILITY = "read capability"  # one capability token by id: user-level tokens (KHEOPS)

_ACTION_SCOPE: dict[str, dict[str, frozenset[str]]] = {
    READ: {USER: frozenset(), USER_CAPABILITY: frozenset({"read"}), ALBUM_CAPABILITY: frozenset({"read"}),
           VIEWER: frozenset({"read"}), REPORT_PROVIDER: frozenset({"read"})},
    READ_COMMENTS: {USER: frozenset(), USER_CAPABILITY: frozenset({"read"})},
    CHANGE: {USER: frozenset(), USER_CAPABILITY: frozenset({"write"})},
    SEND: {USER: frozenset(), USER_CAPABILITY: frozenset({"read", "write"}),
           ALBUM_CAPABILITY: frozenset({"read", "send"})},
    MANAGE_CAPABILITIES: {USER: frozenset()},
    READ_CAPABILITY: {USER: frozenset(), USER_CAPABILITY: frozenset()},
}


def may(principal: Principal, action: str) -> bool:
    needed = _ACTION_SCOPE[action].get(principal.kind)
    return needed is not None and needed <= principal.scope


def require_action(principal: Principal, action: str) -> None:
    """403 unless the token's kind and flags allow `action` (before any resource is looked at)."""
    if not may(principal, action):
        raise Forbidden("You don't have the permission to do this with this token")

def require_user_access(principal: Principal) -> None:
    """User-level endpoints (albums, webhooks, sharing) refuse album-scoped tokens: 403."""
    if not principal.has_user_access:
        raise Forbidden("You don't have the permission to do this with this type of token")

def require_userinfo_reader(principal: Principal) -> None:
    """`GET /userinfo` answers report-provider tokens only (docs/report-providers.md): 403."""
    if principal.kind != REPORT_PROVIDER:
        raise Forbidden("userinfo answers report-provider tokens only")
