"""The kinds of caller. Every request resolves to exactly one `Principal`."""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.store.models import UserProfile

USER = "user"
USER_CAPABILITY = "user_capability"
ALBUM_CAPABILITY = "album_capability"
VIEWER = "viewer"
REPORT_PROVIDER = "report_provider"
# The research-album worker placing a de-identified copy (never a request's caller: no token
# resolves to it; `user` is the sender of the original, for the album events).
DEIDENTIFIER = "deidentifier"

FULL_USER_SCOPE = frozenset({"read", "write", "send", "downloadbutton"})


@dataclass(frozen=True)
class Principal:
    """Who is asking, and what pins their token carries.

    `user` is the user the request acts for. `album_id` pins album-scoped tokens (album
    capability, report provider, a viewer opened from an album); `inbox_only` pins a viewer opened
    from the inbox; `study_uids` pins viewer and report-provider tokens to their studies."""

    kind: str
    user: UserProfile
    scope: frozenset[str] = FULL_USER_SCOPE
    album_id: str | None = None
    inbox_only: bool = False
    study_uids: frozenset[str] | None = None
    capability_id: str | None = None
    needs_album_admin: bool = False  # a viewer minted from an album capability: its creator must stay admin
    capability_title: str | None = None
    client_id: str | None = None
    token: str = ""

    @property
    def sub(self) -> str:
        return self.user.sub

    @property
    def has_user_access(self) -> bool:
        """May call user-level endpoints (albums, sharing, inbox). KHEOPS `hasUserAccess`."""
        return self.kind in (USER, USER_CAPABILITY)

    def can(self, scope_word: str) -> bool:
        return scope_word in self.scope
