"""`store.items.get_or_none`: an absent item is None, not an exception; other errors pass."""
from __future__ import annotations

import pytest

from chalicelib.store.items import get_or_none


class _Model:
    class DoesNotExist(Exception):
        pass

    stored = {("ALBUM#a", "META"): "album a"}
    calls: list = []

    @classmethod
    def get(cls, hash_key, range_key, consistent_read=False):
        cls.calls.append((hash_key, range_key, consistent_read))
        if hash_key == "boom":
            raise RuntimeError("throttled")
        try:
            return cls.stored[(hash_key, range_key)]
        except KeyError:
            raise cls.DoesNotExist() from None


def test_an_item_is_returned_and_an_absent_one_is_none():
    assert get_or_none(_Model, ("ALBUM#a", "META"), consistent_read=True) == "album a"
    assert get_or_none(_Model, ("ALBUM#b", "META")) is None
    assert _Model.calls[-2:] == [("ALBUM#a", "META", True), ("ALBUM#b", "META", False)]


def test_other_errors_are_not_swallowed():
    with pytest.raises(RuntimeError):
        get_or_none(_Model, ("boom", "META"))
