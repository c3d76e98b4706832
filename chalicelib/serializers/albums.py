"""An album as KHEOPS answers it (AlbumResponse, docs/kheops-compatibility.md §5)."""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.serializers import research as research_json
from chalicelib.serializers import users as user_json
from chalicelib.serializers.research import ResearchCounts
from chalicelib.store.models import Album, AlbumMember, UserProfile

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


@dataclass(frozen=True)
class AlbumView:
    """An album as one caller sees it: what its AlbumResponse is built from (`answer`)."""

    album: Album
    membership: AlbumMember | None
    is_admin: bool
    counts: AlbumCounts
    research: ResearchCounts | None = None  # a research album's counts
    members: tuple[tuple[UserProfile, bool], ...] | None = None  # (profile, is admin), when listed


def members(listed) -> list[dict]:
    """Members, each `{email, name, sub, is_admin}`, in the order given."""
    return [user_json.member(profile, profile.sub, is_admin) for profile, is_admin in listed]


def answer(view: AlbumView) -> dict:
    """The AlbumResponse of a view: the flags as the caller reads them (a research album's members
    never add series, `research_json.member_flags`), its summary, its members when listed."""
    flags = {attr: getattr(view.album.flags, attr) for attr in FLAG_FIELDS.values()}
    summary = None
    if view.research is not None:
        summary = research_json.summary(view.album.research, view.research)
        flags.update(research_json.member_flags())
    listed = None if view.members is None else members(view.members)
    return album(view.album, view.membership, view.is_admin, view.counts, flags, summary, listed)
