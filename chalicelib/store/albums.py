"""An album's partition (`ALBUM#{id}`), read by intent: members, events, webhooks and their
triggers, report providers, capability links, series reads, every key. The sort-key grammar of
each item is `store/models.py`'s (`Model.key`); the memberships by member and the series shares
are in `store/shares.py`, the study list in `store/listing.py`."""
from __future__ import annotations

from chalicelib.store.aws import client
from chalicelib.store.items import get_or_none
from chalicelib.store.models import (
    Album,
    AlbumCapability,
    AlbumEvent,
    AlbumMember,
    PendingNewSeries,
    ReportProvider,
    SeriesRead,
    Webhook,
    WebhookTrigger,
)

PARTITION = "ALBUM#"
META = "META"
MEMBER = "MEMBER#"
EVENT = "EVENT#"
WEBHOOK = "WEBHOOK#"
TRIGGER = "TRIGGER#"
PROVIDER = "RP#"
CAPABILITY = "CAP#"
READ = "READ#"


def _pk(album_id: str) -> str:
    return f"{PARTITION}{album_id}"


def album_id_of(pk: str) -> str:
    """The album id of an album partition key (as a GSI row gives it back)."""
    return pk.removeprefix(PARTITION)


def members(album_id: str) -> list[AlbumMember]:
    """Every membership of the album (one Query)."""
    return list(AlbumMember.query(_pk(album_id), AlbumMember.sk.startswith(MEMBER)))


def member_count(album_id: str) -> int:
    """How many members the album has (one Query counting them)."""
    return AlbumMember.count(_pk(album_id), AlbumMember.sk.startswith(MEMBER))


def albums(album_ids: list[str]) -> list[Album]:
    """The albums of these ids that exist, in no order (one BatchGetItem per 100)."""
    return list(Album.batch_get([Album.key(a) for a in album_ids])) if album_ids else []


def member_subs(album_id: str) -> set[str]:
    return {m.member_sub for m in members(album_id)}


def events_newest_first(album_id: str) -> list[AlbumEvent]:
    return list(AlbumEvent.query(_pk(album_id), AlbumEvent.sk.startswith(EVENT), scan_index_forward=False))


def comment_count(album_id: str) -> int:
    return AlbumEvent.count(_pk(album_id), AlbumEvent.sk.startswith(EVENT),
                            filter_condition=AlbumEvent.event_type == "Comment")


def webhooks(album_id: str) -> list[Webhook]:
    return list(Webhook.query(_pk(album_id), Webhook.sk.startswith(WEBHOOK)))


def triggers_newest_first(album_id: str, webhook_id: str, limit: int | None = None) -> list[WebhookTrigger]:
    """A webhook's triggers, newest first, at most `limit` (one Query, paged by DynamoDB)."""
    return list(WebhookTrigger.query(_pk(album_id), WebhookTrigger.sk.startswith(f"{TRIGGER}{webhook_id}#"),
                                     scan_index_forward=False, limit=limit))


def trigger_or_none(album_id: str, trigger_sk: str) -> WebhookTrigger | None:
    return get_or_none(WebhookTrigger, (_pk(album_id), trigger_sk))


def pending_new_series_or_none(album_id: str, sk: str) -> PendingNewSeries | None:
    return get_or_none(PendingNewSeries, (_pk(album_id), sk))


def report_providers(album_id: str) -> list[ReportProvider]:
    return list(ReportProvider.query(_pk(album_id), ReportProvider.sk.startswith(PROVIDER)))


def capability_links(album_id: str) -> list[AlbumCapability]:
    return list(AlbumCapability.query(_pk(album_id), AlbumCapability.sk.startswith(CAPABILITY)))


def reads_newest_first(album_id: str) -> list[SeriesRead]:
    return list(SeriesRead.query(_pk(album_id), SeriesRead.sk.startswith(READ), scan_index_forward=False))


def item_keys(table: str, album_id: str) -> list[tuple[str, str]]:
    """Every (pk, sk) of the album's partition, whatever kind of item it is."""
    pages = client("dynamodb").get_paginator("query").paginate(
        TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": _pk(album_id)}},
        ProjectionExpression="pk, sk")
    return [(i["pk"]["S"], i["sk"]["S"]) for page in pages for i in page["Items"]]


def is_membership(sk: str) -> bool:
    return sk.startswith(MEMBER)


def is_album_meta(sk: str) -> bool:
    return sk == META
