"""Queries in moto that read only the items of the queried hash key.

moto answers a Query by sorting every item of the table and testing each: O(table log table) per
call, on the table's own key as on a GSI. Every Obelisk request queries (the albums holding a
study, an album's study list, a study's instances), so the local stack slowed down as data grew
(`make bench` loaded ~3 studies/s past 4,000, the emulator at 93% CPU in `Table.all_items`). A
table Query is handed the items under its hash key. For GSIs this keeps, per table and index, the
items under each hash value with their place in the index: writes mark their item, and the
buckets catch up before the next GSI query. A GSI query with a `Limit` (a page of a list) is handed only the first `Limit`
+ 1 items in the index's order (the one more tells moto a next page exists): moto sorts what it is
handed, and sorting a 10,000-study album for a page of 101 made the local study list grow with
the album where DynamoDB reads the index in order. A GSI that projects less than ALL hands moto
its index entries (`project`), not the table's items: DynamoDB's 1 MB page of a Query counts the
entries it reads, and moto counted whole items (a keys-only index paged as the table). An entry
keeps the item's own attribute values (moto's `project` rebuilt each item through JSON: 2.4 ms
an item, seconds for an album's keys-only index). Exact because the emulator serves
DynamoDB requests one at a time (`ONE_AT_A_TIME`, see `devstack/moto_patches/__init__.py`); `tests/integration/test_emulator.py` compares
answers with moto's own."""
from __future__ import annotations

import heapq
import inspect

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import SecondaryIndex, Table

from devstack.moto_patches import ONE_AT_A_TIME

ItemKey = tuple[DynamoType, DynamoType | None]


def _hash_attribute(index) -> str | None:
    hashes = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
    return hashes[0] if len(hashes) == 1 else None


def _order(table: Table, index) -> list[str]:
    """The attributes that order an index, as moto sorts it: its range key, then the table's keys."""
    return ([k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
            + [a for a in (table.hash_key_attr, table.range_key_attr) if a])


def _position(names: list[str], attrs: dict) -> tuple | None:
    """Where an item (DynamoType values) or a start key (JSON values) stands in that order; None
    for an item the index's range key leaves out."""
    if names[0] not in attrs:
        return None
    return tuple((DynamoType(attrs[n]) if isinstance(attrs[n], dict) else attrs[n]).cast_value
                 for n in names if n in attrs)


class _Buckets:
    """Per GSI of one table: hash value -> {item key: (position in the index, item)}; `dirty`
    items are re-filed before the next query."""

    def __init__(self, table: Table):
        self.table = table
        self.dirty: set[ItemKey] = set()
        self.by_index: dict[str, dict[DynamoType, dict[ItemKey, tuple]]] = {}
        self.filed: dict[ItemKey, dict[str, DynamoType]] = {}
        for item in table.all_items():
            self._file((item.hash_key, item.range_key), item)

    def _file(self, key: ItemKey, item) -> None:
        for index_name, value in self.filed.pop(key, {}).items():
            self.by_index.get(index_name, {}).get(value, {}).pop(key, None)
        if item is None:
            return
        for index in self.table.global_indexes:
            attribute = _hash_attribute(index)
            value = item.attrs.get(attribute) if attribute else None
            if value is not None:
                position = _position(_order(self.table, index), item.attrs)
                self.by_index.setdefault(index.name, {}).setdefault(value, {})[key] = (position, item)
                self.filed.setdefault(key, {})[index.name] = value

    def catch_up(self) -> None:
        for key in self.dirty:
            self._file(key, self.table.get_item(*key))
        self.dirty.clear()

    def entries(self, index_name: str, value: DynamoType) -> list[tuple]:
        """(position, item) of the items under a hash value of an index."""
        self.catch_up()
        return list(self.by_index.get(index_name, {}).get(value, {}).values())


def _first_of_page(table: Table, index, entries: list[tuple], limit: int, forward: bool, start: dict | None) -> list:
    """The first `limit` + 1 items of `entries` in the order of `index`, after the exclusive start
    key `start` (positions are distinct: they end with the table's keys)."""
    ordered = [entry for entry in entries if entry[0] is not None]
    if start:
        after = _position(_order(table, index), start)
        ordered = [entry for entry in ordered if (entry[0] > after if forward else entry[0] < after)]
    pick = heapq.nsmallest if forward else heapq.nlargest
    return [item for _, item in pick(limit + 1, ordered, key=lambda entry: entry[0])]


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
        conditions = dict(asked.get("hash_key_conditions") or [])
        if index is not None:
            attribute = _hash_attribute(index)
            if attribute in conditions:
                entries = _buckets(self, build=True).entries(index_name, conditions[attribute])
                ranged = any(k["KeyType"] == "RANGE" for k in index.schema)
                if ranged and asked.get("limit") and not (asked.get("range_comparison") or asked.get("filter_kwargs")
                                                          or asked.get("range_key_conditions")):
                    self._obelisk_candidates = _first_of_page(self, index, entries, int(asked["limit"]),
                                                              asked.get("scan_index_forward") is not False,
                                                              asked.get("exclusive_start_key"))
                else:
                    self._obelisk_candidates = [item for _, item in entries]
                self._obelisk_candidates = [_project(index, item) for item in self._obelisk_candidates]
        elif not index_name and asked.get("hash_key") is not None:
            held = self.items.get(asked["hash_key"])
            self._obelisk_candidates = [] if held is None else list(held.values()) if self.range_key_attr else [held]
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
    patched_query.obelisk_patched = True
    Table.query, Table.all_items = patched_query, patched_all_items
    Table.put_item, Table.delete_item, DynamoDBBackend.update_item = (patched_put_item, patched_delete_item,
                                                                       patched_update_item)
