"""A cheaper rollback for moto's DynamoDB TransactWriteItems.

moto deep-copies every table a transaction names, before running it, to roll back on failure:
O(table size) per call. On a table of a few thousand items each STOW's transaction copied it
several times; the emulator slowed down as data grew and reached 18 GB in `make bench`. DynamoDB requests are served
one at a time (`ONE_AT_A_TIME`, see `devstack/moto_patches/__init__.py`), so saving the items the
transaction names, and putting them back on failure, is an exact rollback."""
from __future__ import annotations

import copy
import types

import moto.dynamodb.models as models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

from devstack.moto_patches import ONE_AT_A_TIME, indexes


def _slot(table: Table, key: dict) -> tuple[DynamoType, DynamoType | None]:
    range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    return DynamoType(key[table.hash_key_attr]), range_value


def _put_back(table: Table, hash_value: DynamoType, range_value: DynamoType | None, item) -> None:
    indexes.mark(table, hash_value, range_value)
    if range_value is None:
        if item is None:
            table.items.pop(hash_value, None)
        else:
            table.items[hash_value] = item
    elif item is None:
        table.items.get(hash_value, {}).pop(range_value, None)
    else:
        table.items[hash_value][range_value] = item


def _saved_items(backend: DynamoDBBackend, transact_items: list[dict]) -> list[tuple]:
    saved = []
    for entry in transact_items:
        _, operation = next(iter(entry.items()))
        table = backend.tables.get(operation.get("TableName"))
        key = operation.get("Key") or operation.get("Item") or {}
        if table is None or table.hash_key_attr not in key or (table.range_key_attr and table.range_key_attr not in key):
            continue  # moto refuses it before writing anything
        hash_value, range_value = _slot(table, key)
        saved.append((table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value))))
    return saved


def install() -> None:
    """Tables are no longer deep-copied by moto's transaction; the named items are saved instead."""
    original = DynamoDBBackend.transact_write_items
    if getattr(original, "obelisk_patched", False):
        return

    def keep_tables(value, memo=None):
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    models.copy = types.SimpleNamespace(deepcopy=keep_tables, copy=copy.copy)

    def transact_write_items(self, transact_items):
        ONE_AT_A_TIME.require("DynamoDB TransactWriteItems")
        saved = _saved_items(self, transact_items)
        try:
            return original(self, transact_items)
        except Exception:
            for table, hash_value, range_value, item in reversed(saved):
                _put_back(table, hash_value, range_value, item)
            raise

    transact_write_items.obelisk_patched = True
    DynamoDBBackend.transact_write_items = transact_write_items
