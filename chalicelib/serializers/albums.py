"""An album as KHEOPS answers it (AlbumResponse, docs/kheops-compatibility.md §5)."""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.store.models import Album, AlbumMember

# KHEOPS's name of each album flag -> the `AlbumFlags` attribute (forms use the first, answers the second).
FLAG_FIELDS = {"addUser": "add_user", "downloadSeries": "download_series", "sendSeries": "send_series",
               "deleteSeries": "delete_series", "addSeries": "add_series", "writeComments": "write_comments"}


@dataclass(frozen=True)
class AlbumCounts:
    """What an album holds, as its answer counts it."""

    users: int
    comments: int
    studies: int
    series: int
    instances: int
    modalities: tuple[str, ...]


def album(album: Album, membership: AlbumMember | None, is_admin: bool, counts: AlbumCounts,
          flags: dict[str, bool], research: dict | None = None, users: list[dict] | None = None) -> dict:
    """`flags`: the flags as the caller should read them (by `FLAG_FIELDS` attribute); `research`:
    a research album's summary; `users`: the members, when asked for."""
    body = {
        "album_id": album.album_id, "name": album.name, "description": album.description,
        "modalities": list(counts.modalities),
        "created_time": album.created_time, "last_event_time": album.last_event_time,
        "number_of_users": counts.users, "number_of_comments": counts.comments,
        "number_of_studies": counts.studies, "number_of_series": counts.series,
        "number_of_instances": counts.instances,
        **flags,
        "is_favorite": bool(membership and membership.is_favorite),
        "notification_new_series": bool(membership and membership.notification_new_series),
        "notification_new_comment": bool(membership and membership.notification_new_comment),
        "is_admin": is_admin,
    }
    if research is not None:
        body["research"] = research
    if users is not None:
        body["users"] = users
    return body
