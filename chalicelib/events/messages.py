"""Every queue message Obelisk sends, one frozen dataclass per kind, and the one `send()`.

| queue | kind (discriminator on the wire) | sent by | handled by |
|---|---|---|---|
| events | `AlbumChange` (`mutation_type`: a recorded mutation, or the queue-only `INSTANCES_ADDED`, `DELETE_ALBUM`, `REPORT_STATUS`) | `events.mutations`, `services.albums`, `reporting.status_events` | `webhooks.fan_out` |
| events | `NewSeriesDue` (`mutation_type` = `NEW_SERIES_DUE`) | `webhooks.debounce` | `webhooks.fan_out` |
| deliveries | `WebhookDelivery` (`kind` = `webhook`, or absent) | `webhooks.delivery` | `webhooks.delivery.deliver` |
| deliveries | `ReportReturn` (`kind` = `report_return`) | `reporting.returns` | `reporting.returns.deliver` |
| deliveries dead letter | `Parked` (a delivery message plus `last_status`, `failed_at`) | `events.deliveries` | people |
| renditions | `SeriesGrown` | `services.renditions` | `services.renditions.build_if_settled` |
| research | `SeriesEnteredResearch` | `services.research` | `services.research.copy_series` |

The wire format is the JSON object of each dataclass's fields (`to_wire`), as the code sent before
these classes existed: a message in flight during a deploy is read by the new code (`parse_*`
ignore fields they do not know and default the ones a message lacks) and the other way round."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, ClassVar

from chalicelib.config import settings
from chalicelib.store.aws import client, queue_url

MAX_DELAY_SECONDS = 900  # SQS's limit


class _Message:
    QUEUE: ClassVar[str]  # the `settings()` attribute naming the queue
    WIRE_TAG: ClassVar[dict[str, str]] = {}  # the discriminator the wire form carries

    def to_wire(self) -> dict[str, Any]:
        return {**self.WIRE_TAG, **dataclasses.asdict(self)}

    @classmethod
    def from_wire(cls, body: dict[str, Any]):
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in body.items() if k in names})


@dataclass(frozen=True)
class AlbumChange(_Message):
    """A change to an album (`events.mutations.message_of` for recorded events)."""
    QUEUE: ClassVar[str] = "events_queue"

    event_id: str = ""
    album_id: str = ""
    mutation_type: str = ""
    post_date: str = ""
    actor_sub: str | None = None
    capability: dict | None = None
    report_provider: dict | None = None
    study_uid: str | None = None
    series_uids: list[str] | None = None
    target_sub: str | None = None
    details: dict | None = None

    def origin(self) -> dict:
        """Who made the change: the user, and the capability token or provider they used."""
        return {"actor_sub": self.actor_sub, "capability": self.capability, "report_provider": self.report_provider}


NEW_SERIES_DUE = "NEW_SERIES_DUE"


@dataclass(frozen=True)
class NewSeriesDue(_Message):
    """The delayed check of a `new_series` quiet period (`webhooks.debounce`)."""
    QUEUE: ClassVar[str] = "events_queue"
    WIRE_TAG: ClassVar[dict[str, str]] = {"mutation_type": NEW_SERIES_DUE}

    album_id: str
    study_uid: str
    sk: str
    generation: str
    version: int


@dataclass(frozen=True)
class WebhookDelivery(_Message):
    """One attempt at a webhook POST; `delete_album` carries `target` (`{url, secret}`) instead
    of a trigger, the webhook being gone by then."""
    QUEUE: ClassVar[str] = "deliveries_queue"
    WIRE_TAG: ClassVar[dict[str, str]] = {"kind": "webhook"}

    album_id: str
    webhook_id: str
    event: str
    attempt: int
    body: str
    trigger_id: str | None = None
    trigger_sk: str | None = None
    target: dict | None = None


@dataclass(frozen=True)
class ReportReturn(_Message):
    """One attempt at returning a signed report version to its site; no report content."""
    QUEUE: ClassVar[str] = "deliveries_queue"
    WIRE_TAG: ClassVar[dict[str, str]] = {"kind": "report_return"}

    report_id: str
    version: int
    attempt: int


Delivery = WebhookDelivery | ReportReturn


@dataclass(frozen=True)
class Parked:
    """A delivery whose every attempt failed, kept in the dead-letter queue."""
    QUEUE: ClassVar[str] = "deliveries_dlq"

    message: Delivery
    last_status: int
    failed_at: str

    def to_wire(self) -> dict[str, Any]:
        return {**self.message.to_wire(), "last_status": self.last_status, "failed_at": self.failed_at}


@dataclass(frozen=True)
class SeriesGrown(_Message):
    """A series gained instances: build its objects for `count` instances unless it grows again."""
    QUEUE: ClassVar[str] = "renditions_queue"

    study: str
    series: str
    count: int


@dataclass(frozen=True)
class SeriesEnteredResearch(_Message):
    """A series reached a research album's intake (or was released from hold): the worker
    de-identifies it into the album (docs/research-albums.md). `actor` is who sent it there."""
    QUEUE: ClassVar[str] = "research_queue"

    album_id: str
    study_uid: str
    series_uid: str
    actor: dict
    released: bool = False


Message = AlbumChange | NewSeriesDue | WebhookDelivery | ReportReturn | Parked | SeriesGrown | SeriesEnteredResearch

# Per queue: the discriminator field, its values' kinds, and the kind of a message without one.
EVENTS = ("mutation_type", {NEW_SERIES_DUE: NewSeriesDue}, AlbumChange)
DELIVERIES = ("kind", {"webhook": WebhookDelivery, "report_return": ReportReturn}, WebhookDelivery)
RENDITIONS = ("", {}, SeriesGrown)
RESEARCH = ("", {}, SeriesEnteredResearch)


def parse(body: str | dict, queue: tuple = EVENTS) -> Message:
    """The message of an SQS record's body, as the kind its discriminator names."""
    wire = json.loads(body) if isinstance(body, str) else body
    field, kinds, default = queue
    return kinds.get(wire.get(field) if field else None, default).from_wire(wire)


SQS_BATCH = 10  # SendMessageBatch's limit


def _delay(delay_seconds: int | None) -> dict:
    return {} if delay_seconds is None else {"DelaySeconds": max(0, min(int(delay_seconds), MAX_DELAY_SECONDS))}


def send_batch(batch: list[Message], delay_seconds: int | None = None) -> list[bool]:
    """Sends messages of one queue ten per request; whether each was accepted, in order (a caller
    keeps what failed for a later sweep)."""
    options = _delay(delay_seconds)
    accepted: list[bool] = []
    for start in range(0, len(batch), SQS_BATCH):
        page = batch[start:start + SQS_BATCH]
        answer = client("sqs").send_message_batch(QueueUrl=queue_url(getattr(settings(), page[0].QUEUE)), Entries=[
            {"Id": str(n), "MessageBody": json.dumps(m.to_wire()), **options} for n, m in enumerate(page)])
        failed = {int(f["Id"]) for f in answer.get("Failed", [])}
        accepted += [n not in failed for n in range(len(page))]
    return accepted


def send(message: Message, delay_seconds: int | None = None) -> None:
    """Sends a message to its kind's queue: with `send_batch`, the one home of SQS sends."""
    options = _delay(delay_seconds)
    client("sqs").send_message(QueueUrl=queue_url(getattr(settings(), message.QUEUE)),
                               MessageBody=json.dumps(message.to_wire()), **options)
