"""Reading one item by its key without exceptions for the ordinary case: `get_or_none` instead of
`try: Model.get(...) except Model.DoesNotExist`."""
from __future__ import annotations

from typing import TypeVar

from pynamodb.models import Model

M = TypeVar("M", bound=Model)


def get_or_none(model: type[M], key: tuple, *, consistent_read: bool = False) -> M | None:
    """The item of `model` at `key` (hash, range), or None when there is none."""
    try:
        return model.get(*key, consistent_read=consistent_read)
    except model.DoesNotExist:
        return None
