"""The caller's inbox as a whole (`GET /inboxinfo`)."""
from __future__ import annotations

from chalicelib.auth import policy
from chalicelib.auth.principals import Principal
from chalicelib.serializers import inbox
from chalicelib.services import search


def inbox_info(principal: Principal) -> dict:
    """Modalities and counts of the studies in the caller's inbox; user-level tokens only (403)."""
    policy.require_user_access(principal)
    result = search.search_studies(principal, policy.Source(inbox=True), {}, search.Page(10**6, 0), "")
    return inbox.inbox_info(result.items, result.total)
