"""Reading items by their keys: one without exceptions for the ordinary case (`get_or_none`
instead of `try: Model.get(...) except Model.DoesNotExist`), many in BatchGetItems sent at once
(`batch_get`)."""
from __future__ import annotations

import functools
from typing import TypeVar

from pynamodb.models import Model

from chalicelib.store import aws

M = TypeVar("M", bound=Model)


def get_or_none(model: type[M], key: tuple, *, consistent_read: bool = False) -> M | None:
    """The item of `model` at `key` (hash, range), or None when there is none."""
    try:
        return model.get(*key, consistent_read=consistent_read)
    except model.DoesNotExist:
        return None


BATCH_KEYS = 100  # keys a BatchGetItem request takes


def batch_get(model: type[M], keys: list[tuple], attributes: list[str] | None = None) -> list[M]:
    """The items of `model` at `keys` that exist, in no particular order: one BatchGetItem per
    100 keys, of even sizes (101 keys: 51 and 50, so neither waits on the other's encoding), sent
    at once (`aws.together`), each retrying its unprocessed keys as PynamoDB does."""
    size = -(-len(keys) // -(-len(keys) // BATCH_KEYS)) if keys else 1
    chunks = [keys[i:i + size] for i in range(0, len(keys), size)]
    reads = [functools.partial(_batch, model, chunk, attributes) for chunk in chunks]
    return [item for items in aws.together(*reads) for item in items]


def _batch(model: type[M], keys: list[tuple], attributes: list[str] | None) -> list[M]:
    return list(model.batch_get(keys, attributes_to_get=attributes))
