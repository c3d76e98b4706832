"""moto's SQS SendMessage without counting the queue's messages.

moto reads a queue's `attributes` on every message sent (for `ContentBasedDeduplication`), and that
property counts the queue's messages, visible, delayed and in flight, each against the clock:
O(messages in the queue) per message sent. A queue nobody drains (the bench stops the event
functions; a stack left running with its pollers stopped) grew its sends' cost from 0.03 ms to
~10 ms at 500 messages and ~38 ms at 2,000, on every STOW that queues a renditions build. SQS
sends in constant time. Here a send reads the queue's attributes without the three
`ApproximateNumberOf...` counters (a send reads none of them); `GetQueueAttributes` and every
other reader still count."""
from __future__ import annotations

import threading

from moto.sqs.models import Queue, SQSBackend

COUNTERS = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed",
            "ApproximateNumberOfMessagesNotVisible")
_sending = threading.local()


class _Uncounted:
    """A queue seen by moto's `attributes` property without its message counters."""

    BASE_ATTRIBUTES = [name for name in Queue.BASE_ATTRIBUTES if name not in COUNTERS]

    def __init__(self, queue: Queue):
        self._queue = queue

    def __getattr__(self, name: str):
        return getattr(self._queue, name)


def _while_sending(method):
    def sending(self, *args, **kwargs):
        outer = getattr(_sending, "active", False)
        _sending.active = True
        try:
            return method(self, *args, **kwargs)
        finally:
            _sending.active = outer

    sending.obelisk_patched = True
    return sending


def install() -> None:
    """Sends (single and batched) read the queue's attributes without counting its messages."""
    if getattr(SQSBackend.send_message, "obelisk_patched", False):
        return
    counted = Queue.attributes.fget

    def attributes(self):
        return counted(_Uncounted(self) if getattr(_sending, "active", False) else self)

    Queue.attributes = property(attributes)
    SQSBackend.send_message = _while_sending(SQSBackend.send_message)
    SQSBackend.send_message_batch = _while_sending(SQSBackend.send_message_batch)
