"""A study comment as KHEOPS answers it (a `Comment` event, docs/kheops-compatibility.md §7)."""
from __future__ import annotations

from collections.abc import Mapping

from chalicelib.serializers import users
from chalicelib.store.models import StudyComment, UserProfile


def comment(note: StudyComment, profiles: Mapping[str, UserProfile]) -> dict:
    """`profiles`: the registered users among its author and addressee, by sub."""
    body = {"event_type": "Comment", "post_date": note.post_date, "source": users.user_or_sub(profiles, note.author_sub),
            "comment": note.comment, "is_private": note.target_sub is not None}
    if note.target_sub:
        body["target"] = users.user_or_sub(profiles, note.target_sub)
    return body
