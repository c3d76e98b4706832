"""Queries in moto that read only what DynamoDB reads: the matching range of one hash key.

moto answers a Query by sorting every item of the table and testing each: O(table log table) per
call, on the table's own key as on a GSI. Every Obelisk request queries (the albums holding a
study, an album's study list, a study's instances, a search's index rows), so the local stack
slowed down as data grew (`make bench` loaded ~3 studies/s past 4,000, the emulator at 93% CPU in
`Table.all_items`). This keeps, per table, the items under each hash value of each GSI and of the
table's key, sorted in moto's order (the index's range key, then the table's keys), re-sorted
only after a write touched them: writes mark their item, and the buckets catch up before the
next query. A Query is handed only what moto's own loop would look at: the entries inside its
range-key condition (bisected: `begins_with`, `between`, `=`, `<`, `<=`, `>`, `>=`), after its
`ExclusiveStartKey`, up to where moto stops (its `Limit` + 1, or the 1 MB page), and the one
entry past the range at which moto would see the limit reached (`_handed`); those entries carry
their size, and the answer is not deep-copied (`_Entry`). DynamoDB reads only
the matching range too; moto sorted and tested a whole album's index (tens of thousands of
entries) for a search matching ten.

A GSI that projects less than ALL hands moto its index entries (`project`), not the table's items:
DynamoDB's 1 MB page of a Query counts the entries it reads, and moto counted whole items (a
keys-only index paged as the table). An entry keeps the item's own attribute values (moto's
`project` rebuilt each item through JSON: 2.4 ms an item, seconds for an album's keys-only index).

Exact because the emulator serves DynamoDB requests one at a time (`ONE_AT_A_TIME`, see
`devstack/moto_patches/__init__.py`); `tests/integration/test_emulator.py` compares the answers,
byte for byte, with moto's own. Anything this does not narrow (legacy `QueryFilter`, keys of
several attributes, a start key of another hash value, values of another type) is handed every
entry under the hash key, as before."""
from __future__ import annotations

import bisect
import copy
import inspect
import types

import moto.dynamodb.models.table as moto_table
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import RESULT_SIZE_LIMIT, SecondaryIndex, Table

from devstack.moto_patches import ONE_AT_A_TIME

ItemKey = tuple[DynamoType, DynamoType | None]
TABLE = ""  # the bucket name of the table's own key (GSI names are never empty)
LARGEST_ITEM = 405_000  # bytes: moto refuses a larger item (`LimitedSizeDict`), DynamoDB one over 400 KB


def _hash_attribute(index) -> str | None:
    hashes = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
    return hashes[0] if len(hashes) == 1 else None


def _range_attributes(index) -> list[str]:
    return [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]


def _order(table: Table, index) -> list[str]:
    """The attributes that order an index, as moto sorts it: its range key (for a GSI without one,
    the table's range key), then the table's keys."""
    first = _range_attributes(index) or [a for a in (table.range_key_attr,) if a]
    return first + [a for a in (table.hash_key_attr, table.range_key_attr) if a]


def _position(names: list[str], attrs: dict) -> tuple | None:
    """Where an item (DynamoType values) or a start key (JSON values) stands in that order; None
    for an item the index's range key leaves out."""
    if names[0] not in attrs:
        return None
    return tuple((DynamoType(attrs[n]) if isinstance(attrs[n], dict) else attrs[n]).cast_value
                 for n in names if n in attrs)


class _Entry(Item):
    """An index entry handed to moto, with its size kept (moto's loop asks it twice per entry).
    moto reads entries and builds new items from them, never changes them, so a Query's answer
    holds them as they are (`_copy_answer`): no deep copy of each, which AWS does not make either."""

    def size(self) -> int:
        known = self.__dict__.get("known_size")
        return super().size() if known is None else known


def _entry(item: Item) -> _Entry:
    entry = _Entry.__new__(_Entry)
    entry.hash_key, entry.range_key, entry.attrs = item.hash_key, item.range_key, item.attrs
    entry.known_size = item.size()
    return entry


def _copy_answer(value, memo=None):
    """moto's deep copy of a Query's results, except for results that are all `_Entry`s."""
    if type(value) is list and value and all(type(v) is _Entry for v in value):
        return list(value)
    return copy.deepcopy(value, memo)


class _Sorted:
    """The entries under one hash value, in index order: positions, their first element (the
    range key's value, for bisecting a condition) and the items; each item's index entry and its
    size (as moto counts the 1 MB page) are kept once asked (`entry`)."""

    def __init__(self, entries, project):
        ordered = sorted(entries, key=lambda entry: entry[0])
        self.positions = [position for position, _ in ordered]
        self.firsts = [position[0] for position in self.positions]
        self.items = [item for _, item in ordered]
        self.project = project
        self.entries: list = [None] * len(ordered)

    def entry(self, i: int) -> tuple:
        """(index entry, its size) of the i-th item."""
        found = self.entries[i]
        if found is None:
            entry = _entry(self.project(self.items[i]))
            found = self.entries[i] = (entry, entry.known_size)
        return found


class _Buckets:
    """Per GSI of one table: hash value -> {item key: (position in the index, item)}, and each
    bucket sorted once asked (`sorted`, dropped when one of its entries changes); `dirty` items
    are re-filed before the next query. The table's own partitions are sorted on demand."""

    def __init__(self, table: Table):
        self.table = table
        self.dirty: set[ItemKey] = set()
        self.by_index: dict[str, dict[DynamoType, dict[ItemKey, tuple]]] = {}
        self.filed: dict[ItemKey, dict[str, DynamoType]] = {}
        self.sorted: dict[tuple[str, DynamoType], _Sorted] = {}
        for item in table.all_items():
            self._file((item.hash_key, item.range_key), item)

    def _file(self, key: ItemKey, item) -> None:
        for index_name, value in self.filed.pop(key, {}).items():
            self.by_index.get(index_name, {}).get(value, {}).pop(key, None)
            self.sorted.pop((index_name, value), None)
        if item is None:
            return
        for index in self.table.global_indexes:
            attribute = _hash_attribute(index)
            value = item.attrs.get(attribute) if attribute else None
            if value is not None:
                position = _position(_order(self.table, index), item.attrs)
                self.by_index.setdefault(index.name, {}).setdefault(value, {})[key] = (position, item)
                self.filed.setdefault(key, {})[index.name] = value
                self.sorted.pop((index.name, value), None)

    def catch_up(self) -> None:
        for key in self.dirty:
            self._file(key, self.table.get_item(*key))
            self.sorted.pop((TABLE, key[0]), None)
        self.dirty.clear()

    def entries(self, index_name: str, value: DynamoType) -> list[tuple]:
        """(position, item) of the items under a hash value of an index, in no order."""
        self.catch_up()
        return list(self.by_index.get(index_name, {}).get(value, {}).values())

    def ordered(self, index, value: DynamoType) -> _Sorted:
        """The entries under a hash value of an index (or of the table's key: `index` None), sorted."""
        self.catch_up()
        name = TABLE if index is None else index.name
        found = self.sorted.get((name, value))
        if found is None:
            if index is None:
                held = self.table.items.get(value) or {}
                found = _Sorted([((item.range_key.cast_value,), item) for item in held.values()], lambda item: item)
            else:
                found = _Sorted([entry for entry in self.by_index.get(name, {}).get(value, {}).values()
                                 if entry[0] is not None], lambda item: _project(index, item))
            self.sorted[(name, value)] = found
        return found


def _condition_span(firsts: list, comparison: str | None, values: list[DynamoType]) -> tuple[int, int] | None:
    """[lo, hi) of the sorted range-key values a key condition keeps; None when not narrowed."""
    n = len(firsts)
    if comparison is None:
        return 0, n
    if not values or any(v.type != values[0].type for v in values):
        return None
    bounds = [v.cast_value for v in values]
    if comparison in ("=", "EQ"):
        return bisect.bisect_left(firsts, bounds[0]), bisect.bisect_right(firsts, bounds[0])
    if comparison in ("<", "LT"):
        return 0, bisect.bisect_left(firsts, bounds[0])
    if comparison in ("<=", "LE"):
        return 0, bisect.bisect_right(firsts, bounds[0])
    if comparison in (">", "GT"):
        return bisect.bisect_right(firsts, bounds[0]), n
    if comparison in (">=", "GE"):
        return bisect.bisect_left(firsts, bounds[0]), n
    if comparison == "BETWEEN" and len(bounds) == 2:
        lo = bisect.bisect_left(firsts, bounds[0])
        return lo, max(lo, bisect.bisect_right(firsts, bounds[1]))
    if comparison == "BEGINS_WITH" and isinstance(bounds[0], str):
        lo = hi = bisect.bisect_left(firsts, bounds[0])
        while hi < n and firsts[hi].startswith(bounds[0]):
            hi += 1
        return lo, hi
    return None


def _handed(bucket: _Sorted, inside, past, limit: int | None) -> list:
    """What moto's loop over the sorted candidates looks at before it stops (`Table.query`): the
    matching entries (`inside`, in the asked order, after the start key) until `limit` are taken
    and one more is seen, or the next would pass the 1 MB page; then the entries past the range
    (`past`), which match nothing but at which moto still checks both limits. Past the range, an
    entry can stop it only by the count (the first one) or by its own size (when what was taken is
    within one item of the page)."""
    handed, count, size = [], 0, 0
    for i in inside:
        entry, entry_size = bucket.entry(i)
        handed.append(entry)
        if count == limit or size + entry_size > RESULT_SIZE_LIMIT:
            return handed
        count, size = count + 1, size + entry_size
    for i in past:
        entry, entry_size = bucket.entry(i)
        handed.append(entry)
        if count == limit or size + entry_size > RESULT_SIZE_LIMIT or size + LARGEST_ITEM <= RESULT_SIZE_LIMIT:
            return handed
    return handed


def _narrowed(bucket: _Sorted, order: list[str], asked: dict) -> list | None:
    """The candidates for one Query from its sorted bucket (see `_handed`), or None when this
    Query is not one narrowed here."""
    limit = asked.get("limit")
    conditions = asked.get("range_key_conditions") or []
    if asked.get("filter_kwargs") or len(conditions) > 1 or (limit is not None and int(limit) < 1):
        return None
    span = _condition_span(bucket.firsts, asked.get("range_comparison"), asked.get("range_objs") or [])
    if span is None:
        return None
    lo, hi = span
    forward = asked.get("scan_index_forward") is not False
    start, end = 0, len(bucket.items)
    if asked.get("exclusive_start_key"):
        after = _position(order, asked["exclusive_start_key"])
        if after is None or len(after) != len(order):
            return None
        if forward:
            start = bisect.bisect_right(bucket.positions, after)
        else:
            end = bisect.bisect_left(bucket.positions, after)
    if forward:
        inside, past = range(max(lo, start), hi), range(max(hi, start), end)
    else:
        inside, past = range(min(hi, end) - 1, lo - 1, -1), range(min(lo, end) - 1, start - 1, -1)
    return _handed(bucket, inside, past, None if limit is None else int(limit))


def _start_matches(asked: dict, attribute: str, value: DynamoType) -> bool:
    """A start key under another hash value is left to moto (DynamoDB refuses it)."""
    start = asked.get("exclusive_start_key")
    return not start or (attribute in start and DynamoType(start[attribute]) == value)


def _project(index: SecondaryIndex, item: Item) -> Item:
    """The index's entry of an item: its keys, the index's keys and the projected attributes (all
    of them for ALL), sharing the item's values."""
    projection = index.projection or {}
    kind = projection.get("ProjectionType", "ALL")
    if kind == "ALL":
        return item
    names = [*index.table_key_attrs, *(k["AttributeName"] for k in index.schema),
             *(projection.get("NonKeyAttributes", []) if kind == "INCLUDE" else [])]
    entry = Item.__new__(Item)
    entry.hash_key, entry.range_key = item.hash_key, item.range_key
    entry.attrs = {}
    for name in names:
        if name in item.attrs:
            entry.attrs[name] = item.attrs[name]
    return entry


_tables: dict[int, _Buckets] = {}


def _buckets(table: Table, build: bool) -> _Buckets | None:
    entry = _tables.get(id(table))
    if entry is not None and entry.table is table:
        return entry
    if not build:
        return None
    _tables[id(table)] = entry = _Buckets(table)
    return entry


def mark(table: Table, hash_value: DynamoType, range_value: DynamoType | None) -> None:
    """An item of `table` may have changed (written, updated, deleted or put back)."""
    entry = _buckets(table, build=False)
    if entry is not None:
        entry.dirty.add((hash_value, range_value))


def _index_candidates(table: Table, index, asked: dict) -> list | None:
    """What a GSI Query is handed: the narrowed entries of its bucket, else all of them."""
    attribute = _hash_attribute(index)
    conditions = dict(asked.get("hash_key_conditions") or [])
    if attribute not in conditions:
        return None
    buckets = _buckets(table, build=True)
    ranges = _range_attributes(index)
    if len(ranges) <= 1 and _start_matches(asked, attribute, conditions[attribute]):
        try:
            found = _narrowed(buckets.ordered(index, conditions[attribute]), _order(table, index), asked)
        except TypeError:  # values of another type than the key's: moto's own answer (or error)
            found = None
        if found is not None:
            return found
    return [_project(index, item) for _, item in buckets.entries(index.name, conditions[attribute])]


def _table_candidates(table: Table, asked: dict) -> list:
    """What a Query on the table's key is handed: the narrowed items of its partition, else all."""
    hash_value = asked["hash_key"]
    if table.range_key_attr and _start_matches(asked, table.hash_key_attr, hash_value):
        try:
            found = _narrowed(_buckets(table, build=True).ordered(None, hash_value), [table.range_key_attr], asked)
        except TypeError:
            found = None
        if found is not None:
            return found
    held = table.items.get(hash_value)
    return [] if held is None else list(held.values()) if table.range_key_attr else [held]


def install() -> None:
    if getattr(Table.query, "obelisk_patched", False):
        return
    query, all_items = Table.query, Table.all_items
    put_item, delete_item, update_item = Table.put_item, Table.delete_item, DynamoDBBackend.update_item

    def patched_all_items(self):
        candidates = getattr(self, "_obelisk_candidates", None)
        return list(candidates) if candidates is not None else all_items(self)

    signature = inspect.signature(query)

    def patched_query(self, *args, **kwargs):
        ONE_AT_A_TIME.require("DynamoDB Query")
        asked = signature.bind(self, *args, **kwargs).arguments
        index_name = asked.get("index_name")
        index = next((i for i in self.global_indexes if i.name == index_name), None) if index_name else None
        if index is not None:
            candidates = _index_candidates(self, index, asked)
            if candidates is not None:
                self._obelisk_candidates = candidates
        elif not index_name and asked.get("hash_key") is not None:
            self._obelisk_candidates = _table_candidates(self, asked)
        try:
            return query(self, *args, **kwargs)
        finally:
            self.__dict__.pop("_obelisk_candidates", None)

    def patched_put_item(self, item_attrs, *args, **kwargs):
        ONE_AT_A_TIME.require("DynamoDB PutItem")
        try:
            return put_item(self, item_attrs, *args, **kwargs)
        finally:
            mark(self, DynamoType(item_attrs[self.hash_key_attr]),
                 DynamoType(item_attrs[self.range_key_attr]) if self.range_key_attr else None)

    def patched_delete_item(self, hash_key, range_key):
        ONE_AT_A_TIME.require("DynamoDB DeleteItem")
        try:
            return delete_item(self, hash_key, range_key)
        finally:
            mark(self, hash_key, range_key)

    def patched_update_item(self, table_name, key, *args, **kwargs):
        ONE_AT_A_TIME.require("DynamoDB UpdateItem")
        try:
            return update_item(self, table_name, key, *args, **kwargs)
        finally:
            table = self.tables.get(table_name)
            if table is not None and table.hash_key_attr in key:
                mark(table, DynamoType(key[table.hash_key_attr]),
                     DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None)

    SecondaryIndex.project = _project
    moto_table.copy = types.SimpleNamespace(deepcopy=_copy_answer, copy=copy.copy)
    patched_query.obelisk_patched = True
    Table.query, Table.all_items = patched_query, patched_all_items
    Table.put_item, Table.delete_item, DynamoDBBackend.update_item = (patched_put_item, patched_delete_item,
                                                                       patched_update_item)
