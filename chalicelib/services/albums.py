"""Albums and their members (docs/kheops-compatibility.md §5). The inbox is an album that is never listed,
edited or deleted here."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from chalicelib import booleans, clock
from chalicelib.auth import policy
from chalicelib.auth.principals import Principal
from chalicelib.config import settings
from chalicelib.dicom.qido import Page
from chalicelib.errors import BadFormParameter, BadQueryParameter
from chalicelib.events import messages, mutations
from chalicelib.events.messages import AlbumChange
from chalicelib.serializers import albums as album_json
from chalicelib.serializers.albums import FLAG_FIELDS
from chalicelib.services import capabilities, research, users
from chalicelib.store import albums as album_items
from chalicelib.store import listing, shares, study_index
from chalicelib.store.models import (
    Album,
    AlbumEvent,
    AlbumFlags,
    AlbumMember,
    SeriesRecord,
    SeriesShare,
    UserProfile,
    transact,
)
from chalicelib.store.research import intake_id

SORT_KEYS = ("created_time", "last_event_time", "name", "number_of_users", "number_of_studies", "number_of_comments")
NOTIFICATION_FIELDS = {"notificationNewSeries": "notification_new_series",
                       "notificationNewComment": "notification_new_comment"}


@dataclass(frozen=True)
class AlbumForm:
    """The fields of `POST /albums` and `PATCH /albums/{album}` as sent (None or absent from a
    mapping: not sent). Their values are validated here, after the caller's right to act, so a
    refused caller gets its 403/404 whatever it sent."""

    name: str | None = None
    description: str | None = None
    flags: Mapping[str, str] = field(default_factory=dict)  # KHEOPS flag name (FLAG_FIELDS) -> value
    notifications: Mapping[str, str] = field(default_factory=dict)  # NOTIFICATION_FIELDS -> value
    research: Mapping[str, str] = field(default_factory=dict)  # `research` and the de-identification options

    @property
    def changes_settings(self) -> bool:
        """Whether it changes what only the album's admins change: name, description, flags."""
        return self.name is not None or self.description is not None or bool(self.flags)


@dataclass(frozen=True)
class AlbumQuery:
    """The filters and sort of `GET /albums` as sent (None: not sent), validated by `list_albums`."""

    favorite: str | None = None
    can_add_series: str | None = None  # canAddSeries
    can_create_capability_token: str | None = None  # canCreateCapabilityToken
    name: str | None = None
    fuzzy_matching: str | None = None  # fuzzymatching
    sort: str | None = None
    created_time: str | None = None
    last_event_time: str | None = None
    modality: str | None = None


def _bool(value: str, name: str) -> bool:
    return booleans.parse(value, name, error=BadFormParameter)


def _name(value: str | None) -> str:
    name = (value or "").strip()
    if not name or len(name) > 255:
        raise BadFormParameter("name must be 1 to 255 characters")
    return name


def _description(value: str) -> str:
    if len(value) > 2048 or (value and not value.strip()):
        raise BadFormParameter("description must be at most 2048 characters and not only spaces")
    return value


def create(principal: Principal, form: AlbumForm) -> Album:
    policy.require_action(principal, policy.CHANGE)
    moment = clock.local_iso()
    album_id = clock.random_id(10)
    flags = AlbumFlags(**{attr: _bool(form.flags[name], name) for name, attr in FLAG_FIELDS.items()
                          if name in form.flags})
    research_options = research.options_from_form(form.research, _bool)
    description = form.description if form.description is not None else ""
    album = Album(*Album.key(album_id), album_id=album_id, name=_name(form.name),
                  description=_description(description), flags=flags, created_time=moment,
                  last_event_time=moment, research=research_options)
    member = AlbumMember(*AlbumMember.key(album_id, principal.sub), member_sub=principal.sub, is_admin=True,
                         joined_at=moment)
    event = mutations.mutation_event(album_id, "CREATE_ALBUM", principal)
    with transact() as transaction:
        transaction.save(album, condition=Album.pk.does_not_exist())
        transaction.save(member)
        transaction.save(event)
        if research_options is not None:
            transaction.save(research.new_key(album_id))
    mutations.publish(event)
    return album


def album_view(access: policy.AlbumAccess, include_users: bool = False) -> album_json.AlbumView:
    album_shares = shares.shares_in_album(access.album_id)
    return _view(access, album_shares, _series(album_shares), include_users)


def _views(accesses: list[policy.AlbumAccess]) -> list[album_json.AlbumView]:
    """The views of several albums (a page of the list), the series records of all read together."""
    held = {a.album_id: shares.shares_in_album(a.album_id) for a in accesses}
    records = {(r.study_uid, r.series_uid): r for r in _series([s for h in held.values() for s in h])}
    views = []
    for access in accesses:
        album_shares = held[access.album_id]
        series = [records[k] for k in ((s.study_uid, s.series_uid) for s in album_shares) if k in records]
        views.append(_view(access, album_shares, series))
    return views


def _view(access: policy.AlbumAccess, album_shares: list[SeriesShare], series: list[SeriesRecord],
          include_users: bool = False) -> album_json.AlbumView:
    """An album as the caller sees it, from the album's shares and their series records."""
    album = access.album
    members = album_items.members(album.album_id)
    counts = album_json.AlbumCounts(
        users=len(members), comments=album_items.comment_count(album.album_id),
        studies=len({s.study_uid for s in album_shares}), series=len(album_shares),
        instances=sum(int(s.instance_count) for s in series), modalities=tuple(sorted(_modalities(series))))
    research_counts = research.counts(album.album_id) if album.research is not None else None
    listed = None
    if include_users:
        policy.require_member_listing(access.principal)
        listed = tuple(listed_members(members))
    return album_json.AlbumView(album, access.membership, access.is_admin, counts, research_counts, listed)


def _series(album_shares: list[SeriesShare]) -> list[SeriesRecord]:
    """The series records of shares (one BatchGetItem per 100 distinct series)."""
    keys = list(dict.fromkeys(SeriesRecord.key(s.study_uid, s.series_uid) for s in album_shares))
    return list(SeriesRecord.batch_get(keys)) if keys else []


def _modalities(series: list[SeriesRecord]) -> set[str]:
    return {(s.attributes.get("00080060", {}).get("Value") or [""])[0] for s in series} - {""}


def listed_members(members: list[AlbumMember]) -> list[tuple[UserProfile, bool]]:
    """Members as KHEOPS lists them (`users.listing_order`), each with whether they are admin."""
    admin = {m.member_sub: m.is_admin for m in members}
    profiles = sorted(users.get_users(list(admin)), key=users.listing_order)
    return [(p, admin[p.sub]) for p in profiles if p.sub in admin]


def member_responses(members: list[AlbumMember]) -> list[dict]:
    """Members as KHEOPS lists them, each with `is_admin` (`GET /albums/{album}/users`)."""
    return album_json.members(listed_members(members))


def get(principal: Principal, album_id: str, include_users: bool) -> album_json.AlbumView:
    return album_view(policy.require_album_reader(principal, album_id), include_users)


_SOUNDEX_CODES = dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "01230120022455012623010202", strict=True))


def _soundex_code(character: str) -> str:
    return _SOUNDEX_CODES.get(character.upper(), character)


def soundex(text: str) -> str:
    """The four-character SOUNDEX code as PostgreSQL's fuzzystrmatch computes it (what KHEOPS's
    `fuzzymatching` compares): the first letter, then the codes of the following letters that
    differ from the character before them, zeros dropped, padded with zeros."""
    start = next((i for i, c in enumerate(text) if c.isascii() and c.isalpha()), None)
    if start is None:
        return ""
    letters = text[start:]
    code = letters[0].upper()
    for previous, character in zip(letters, letters[1:], strict=False):
        if len(code) == 4:
            break
        if character.isascii() and character.isalpha() and _soundex_code(character) != _soundex_code(previous):
            if _soundex_code(character) != "0":
                code += _soundex_code(character)
    return code.ljust(4, "0")


def name_matches(pattern: str, name: str, fuzzy: bool = False) -> bool:
    """KHEOPS's album `name` filter: the whole name, case-insensitively, `*` standing for any
    characters; with `fuzzymatching`, an equal SOUNDEX code also matches."""
    regex = ".*".join(re.escape(part) for part in pattern.lower().split("*"))
    if re.fullmatch(regex, name.lower(), flags=re.DOTALL):
        return True
    return fuzzy and soundex(pattern) != "" and soundex(pattern) == soundex(name)


_DAY = re.compile(r"\d{4}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])")


def day_range(value: str, name: str) -> tuple[str, str]:
    """KHEOPS's album date filter as the first and last day it covers, both included, written as
    album times begin (`2026-12-06`): `yyyyMMdd` (that day), `yyyyMMdd-yyyyMMdd`, `-yyyyMMdd` (up to
    that day), `yyyyMMdd-` (from that day). Anything else, or a day that does not exist, is a 400."""
    first, dash, last = value.strip().partition("-")
    if not dash:
        last = first
    bounds = [first or "00010101", last or "99991231"]
    for day in bounds if first or last else ["-"]:
        if not _DAY.fullmatch(day) or not _exists(day):
            raise BadQueryParameter(f"{name} must be yyyyMMdd, yyyyMMdd-yyyyMMdd, -yyyyMMdd or yyyyMMdd-")
    first, last = (f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in bounds)
    return first, last


def _exists(day: str) -> bool:
    try:
        date(int(day[:4]), int(day[4:6]), int(day[6:]))
    except ValueError:
        return False
    return True


def list_albums(principal: Principal, query: AlbumQuery, page: Page) -> tuple[list[album_json.AlbumView], int]:
    """A page of the caller's albums (never the inbox) that pass KHEOPS's filters, in the order
    asked for, and how many pass. The albums are filtered and sorted on their own items (read in
    batches: docs/scale.md), and only the page's answers are built; the modality filter and sorts
    on member or comment counts read one count per album."""
    policy.require_user_access(principal)
    wanted = {name: booleans.parse(value, name, False) for name, value in (
        ("favorite", query.favorite), ("canAddSeries", query.can_add_series),
        ("canCreateCapabilityToken", query.can_create_capability_token))}
    fuzzy = booleans.parse(query.fuzzy_matching, "fuzzymatching", False)
    sort = query.sort or "-created_time"
    if sort.lstrip("-") not in SORT_KEYS:
        raise BadQueryParameter(f"cannot sort albums by {sort}")
    days = {name: day_range(value, name) for name, value in (("created_time", query.created_time),
                                                             ("last_event_time", query.last_event_time)) if value}
    passing = []
    for access in _accesses(principal):
        if wanted["favorite"] and not access.membership.is_favorite:
            continue
        if wanted["canAddSeries"] and not access.allows(policy.ADD_SERIES):
            continue
        if wanted["canCreateCapabilityToken"] and not access.is_admin:
            continue
        if query.name and not name_matches(query.name, access.album.name, fuzzy):
            continue
        if not all(first <= getattr(access.album, attr)[:10] <= last for attr, (first, last) in days.items()):
            continue
        passing.append(access)
    if query.modality:
        passing = _holding_modality(passing, query.modality.upper())
    values = _sort_values([a.album for a in passing], sort.lstrip("-"))
    passing.sort(key=lambda a: (values[a.album_id], a.album_id), reverse=sort.startswith("-"))
    return _views(passing[page.offset: page.offset + page.limit]), len(passing)


def _accesses(principal: Principal) -> list[policy.AlbumAccess]:
    """The caller's standing in each album they belong to but their inbox: one Query, and one
    BatchGetItem per 100 albums. An album deleted meanwhile (its META gone first) is left out."""
    memberships = {album_id: membership for album_id, membership in shares.memberships(principal.sub).items()
                   if album_id != principal.user.inbox_id}
    found = album_items.albums(list(memberships))
    return [policy.AlbumAccess(principal, album, memberships[album.album_id]) for album in found]


def _holding_modality(accesses: list[policy.AlbumAccess], modality: str) -> list[policy.AlbumAccess]:
    """The albums holding a series of this modality: an album whose study rows are indexed
    answers from its `AlbumStudyModality` rows (one Query), another from its series."""
    holding = listing.counts([a.album_id for a in accesses])
    return [a for a in accesses if a.album_id in holding and (
        study_index.holds_modality(a.album_id, modality) if listing.all_indexed({a.album_id: holding[a.album_id]})
        else modality in _modalities(_series(shares.shares_in_album(a.album_id))))]


def _sort_values(found: list[Album], key: str) -> dict[str, object]:
    """Each album's value of a `SORT_KEYS` key, by album id, as its answer gives it."""
    album_ids = [album.album_id for album in found]
    if key == "number_of_studies":
        counted = listing.counts(album_ids)
        return {a: int(counted[a].studies) if a in counted else 0 for a in album_ids}
    if key == "number_of_users":
        return {a: album_items.member_count(a) for a in album_ids}
    if key == "number_of_comments":
        return {a: album_items.comment_count(a) for a in album_ids}
    return {album.album_id: getattr(album, key) for album in found}


def edit(principal: Principal, album_id: str, form: AlbumForm) -> album_json.AlbumView:
    access = policy.require_album_edit(principal, album_id, form.changes_settings)
    album = access.album
    actions = []
    if form.name is not None:
        actions.append(Album.name.set(_name(form.name)))
    if form.description is not None:
        actions.append(Album.description.set(_description(form.description)))
    for name, attr in FLAG_FIELDS.items():
        if name in form.flags:
            actions.append(getattr(Album.flags, attr).set(_bool(form.flags[name], name)))
    member_actions = []
    for name, attr in NOTIFICATION_FIELDS.items():
        if name in form.notifications:
            member_actions.append(getattr(AlbumMember, attr).set(_bool(form.notifications[name], name)))
    with transact() as transaction:
        if actions:
            actions.append(Album.last_event_time.set(clock.local_iso()))
            transaction.update(album, actions=actions, condition=Album.pk.exists())
            transaction.save(mutations.mutation_event(album_id, "EDIT_ALBUM", principal))
        if member_actions:
            transaction.update(access.membership, actions=member_actions, condition=AlbumMember.pk.exists())
    return album_view(policy.album_access(principal, album_id))


def delete(principal: Principal, album_id: str) -> None:
    access = policy.require_album_permission(principal, album_id, policy.DELETE_ALBUM)
    remove_album(access.album, principal)


def remove_album(album: Album, principal: Principal) -> None:
    """Deletes every item of the album. The album stops being visible first (its membership rows
    go in one transaction with the META), then `DELETE_ALBUM` is published with the webhooks it
    had, then the rest is removed in batches."""
    album_id = album.album_id
    items = album_items.item_keys(settings().albums_table, album_id)
    webhooks = album_items.webhooks(album_id)
    capabilities.revoke_created_by(None, album_id, principal)
    members = [AlbumMember(pk, sk) for pk, sk in items if album_items.is_membership(sk)]
    for chunk in range(0, len(members), 90):
        with transact() as transaction:
            if chunk == 0:
                transaction.delete(Album(*Album.key(album_id)))
            for member in members[chunk:chunk + 90]:
                transaction.delete(member)
    messages.send(AlbumChange(
        event_id=clock.random_id(16), album_id=album_id, mutation_type="DELETE_ALBUM",
        post_date=clock.local_iso(), actor_sub=principal.sub,
        details={"webhooks": [{"id": w.webhook_id, "url": w.url, "secret": w.secret,
                               "events": list(w.events or []), "enabled": w.enabled} for w in webhooks]}))
    with AlbumEvent.batch_write() as batch:
        for pk, sk in items:
            if not album_items.is_membership(sk) and not album_items.is_album_meta(sk):
                batch.delete(AlbumEvent(pk, sk))
    shares.forget_album(album_id)
    if album.research is not None:
        shares.forget_album(intake_id(album_id))
