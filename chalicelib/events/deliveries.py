"""Retried POSTs: one attempt per deliveries-queue message, recorded on the delivery's attempt log,
re-queued with SQS message delay, and parked in the deliveries dead-letter queue once every
attempt failed. Webhook triggers (`webhooks.delivery`) and report returns (`reporting.returns`)
both go through here.

A message (`messages.WebhookDelivery` or `messages.ReportReturn`) names its handler with `kind`
(absent means `webhook`, as messages queued before kinds existed) and carries `attempt`. An attempt log is a PynamoDB item with `attempts` (a list of
`DeliveryAttempt`) and `state` (`pending` while attempts remain, then `pass` or `fail`). Delivery is
at least once: attempt n is recorded with a condition on the number of attempts already recorded,
so a message that comes twice (a worker killed mid-way, SQS redelivery) records once and schedules
the next attempt once."""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

import requests
from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import size
from pynamodb.models import Model

from chalicelib import clock, outbound
from chalicelib.config import settings
from chalicelib.events import messages
from chalicelib.events.messages import Delivery, Parked
from chalicelib.store.models import DeliveryAttempt

log = logging.getLogger(__name__)
CONNECTION_ERROR = -1


def max_attempts() -> int:
    return len(settings().webhook_retry_delays) + 1


def succeeded(status: int) -> bool:
    return 200 <= status < 300


def enqueue(message: Delivery, delay_seconds: int = 0) -> None:
    messages.send(message, delay_seconds=delay_seconds)


def post(url: str, body: bytes, headers: dict[str, str], label: str) -> int:
    """One POST: the HTTP status, or -1 when the target is refused or does not answer."""
    try:
        status = outbound.post(url, data=body, headers=headers).status_code
    except (outbound.OutboundRefused, requests.RequestException) as error:
        log.info("%s to %s: %s", label, url, error)
        return CONNECTION_ERROR
    log.info("%s to %s: HTTP %s", label, url, status)
    return status


def attempt(message: Delivery, attempt_log: Model | None, send: Callable[[], int | None]) -> None:
    """Makes attempt `message.attempt` of a logged delivery once: `send` POSTs and returns the
    status, or None when there is nothing to send any more (the target is gone)."""
    if attempt_log is None or attempt_log.state != "pending":
        return
    number = int(message.attempt)
    recorded = len(attempt_log.attempts or [])
    if recorded > number:
        return  # a stale copy: later attempts were already made
    if recorded == number:  # made and recorded before a crash: make sure the next is scheduled
        after_attempt(message, int(attempt_log.attempts[-1].status))
        return
    status = send()
    if status is not None and _record(attempt_log, number, status):
        after_attempt(message, status)


def _record(attempt_log: Model, number: int, status: int) -> bool:
    """Appends attempt n unless another worker already did; sets the final state."""
    model = type(attempt_log)
    state = "pass" if succeeded(status) else ("fail" if number >= max_attempts() else "pending")
    entry = DeliveryAttempt(attempt=number, status=status, time=clock.utc_iso())
    try:
        attempt_log.update(actions=[model.attempts.set(model.attempts.append([entry])), model.state.set(state)],
                           condition=(size(model.attempts) == number - 1))
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def after_attempt(message: Delivery, status: int) -> None:
    """Schedules the next attempt after a failure, or parks the message when none remain."""
    number = int(message.attempt)
    if succeeded(status):
        return
    if number < max_attempts():
        enqueue(dataclasses.replace(message, attempt=number + 1), settings().webhook_retry_delays[number - 1])
        return
    messages.send(Parked(message, last_status=status, failed_at=clock.utc_iso()))
    log.warning("%s delivery failed %s times; parked in the dead-letter queue", message.WIRE_TAG["kind"], number)


def attempts_json(attempt_log: Model) -> list[dict]:
    return [{"status": int(a.status), "time": a.time, "attempt": int(a.attempt)} for a in attempt_log.attempts or []]
