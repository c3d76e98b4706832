"""moto's SQS without counting a queue's messages where nothing reads the counts.

moto's `Queue.attributes` counts the queue's messages (visible, delayed, in flight, each against
the clock) whenever any attribute is read, and moto reads them where it needs one other value:
on every message sent (`ContentBasedDeduplication`), on every message received (the queue's
`MessageRetentionPeriod`, through `get_queue_attributes`), and `GetQueueAttributes` computes them
all three times for each attribute it is asked for. A queue nobody drains (the bench stops the
event functions; a backlog after a bulk upload) made each of those O(messages held): a send went
from 0.03 ms to ~38 ms at 2,000 messages, a receive of 10 to ~2 s (outside check round 19). SQS
does neither. Here a send, a message's retention check and a `GetQueueAttributes` that asks for no
count read the attributes without the three `ApproximateNumberOf...` counters, and one that asks
for counts computes them once per call; every other reader counts as moto does."""
from __future__ import annotations

import threading

from moto.sqs.models import Queue, SQSBackend

COUNTERS = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed",
            "ApproximateNumberOfMessagesNotVisible")
UNCOUNTED = "uncounted"
_scope = threading.local()  # .mode: None (moto's), UNCOUNTED, or {id(queue): attributes} for one call


class _Uncounted:
    """A queue seen by moto's `attributes` property without its message counters."""

    BASE_ATTRIBUTES = [name for name in Queue.BASE_ATTRIBUTES if name not in COUNTERS]

    def __init__(self, queue: Queue):
        self._queue = queue

    def __getattr__(self, name: str):
        return getattr(self._queue, name)


def _within(mode_of):
    """The method run with the attributes' mode `mode_of(*args)` gives, the caller's restored after."""
    def wrap(method):
        def scoped(self, *args, **kwargs):
            outer = getattr(_scope, "mode", None)
            _scope.mode = mode_of(*args, **kwargs)
            try:
                return method(self, *args, **kwargs)
            finally:
                _scope.mode = outer

        scoped.obelisk_patched = True
        return scoped
    return wrap


def _attributes_mode(*args, **kwargs):
    """A `GetQueueAttributes` that asks for no count counts nothing; one that does, once."""
    attribute_names = kwargs.get("attribute_names", args[1] if len(args) > 1 else [])
    if "All" in attribute_names or any(name in COUNTERS for name in attribute_names):
        return {}
    return UNCOUNTED


def install() -> None:
    """Sends, retention checks and attribute reads count only when asked to, once."""
    if getattr(SQSBackend.send_message, "obelisk_patched", False):
        return
    counted = Queue.attributes.fget

    def attributes(self):
        mode = getattr(_scope, "mode", None)
        if mode == UNCOUNTED:
            return counted(_Uncounted(self))
        if isinstance(mode, dict):
            if id(self) not in mode:
                mode[id(self)] = counted(self)
            return mode[id(self)]
        return counted(self)

    def uncounted(*_args, **_kwargs):
        return UNCOUNTED

    Queue.attributes = property(attributes)
    SQSBackend.send_message = _within(uncounted)(SQSBackend.send_message)
    SQSBackend.send_message_batch = _within(uncounted)(SQSBackend.send_message_batch)
    SQSBackend.is_message_valid_based_on_retention_period = _within(uncounted)(
        SQSBackend.is_message_valid_based_on_retention_period)
    SQSBackend.get_queue_attributes = _within(_attributes_mode)(SQSBackend.get_queue_attributes)
