"""moto's DynamoDB TransactWriteItems: a cheaper rollback, and its idempotency token honoured.

moto deep-copies every table a transaction names, before running it, to roll back on failure:
O(table size) per call. On a table of a few thousand items each STOW's transaction copied it
several times; the emulator slowed down as data grew and reached 18 GB in `make bench`. DynamoDB requests are served
one at a time (`ONE_AT_A_TIME`, see `devstack/moto_patches/__init__.py`), so saving the items the
transaction names, and putting them back on failure, is an exact rollback.

moto 5.2.5 ignores a transaction's `ClientRequestToken`: a transaction sent again with the same
token was applied again. DynamoDB applies it once: sent again with the same token and parameters
within 10 minutes of the first call's completion, a transaction that succeeded answers success and
writes nothing; with other parameters, `IdempotentParameterMismatchException`. botocore's retries
of a transaction (a lost connection, a 5xx, a damaged answer) and Obelisk's lean transactions
(`chalicelib/store/dynamodb_transactions.py`) rely on it, so the emulator does it too: the tokens
of transactions that succeeded are kept 10 minutes, in memory (not in the saved state: after a
restart a token is new), with the SHA-256 of the request's body. A body sent again is the same
bytes (botocore sends its serialized request again; the lean transaction sends botocore's bytes),
so comparing bodies is comparing parameters; another client's spelling of the same parameters
would be refused here as a mismatch. A cancelled transaction keeps no token: sent again, it runs
again (it wrote nothing)."""
from __future__ import annotations

import copy
import hashlib
import time
import types

import moto.dynamodb.models as models
from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

from devstack.moto_patches import ONE_AT_A_TIME, indexes

TOKEN_SECONDS = 600
# (account, region, token) -> (the SHA-256 of the request's body, when it completed, moto's answer),
# oldest first
_succeeded: dict[tuple[str, str, str], tuple[str, float, object]] = {}


class IdempotentParameterMismatch(DynamodbException):
    error_type = ERROR_TYPE_PREFIX + "IdempotentParameterMismatchException"

    def __init__(self) -> None:
        super().__init__(self.error_type, message="The request uses the same client token as a previous, "
                                                  "but non-identical request.")


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
    _honour_tokens()


def _honour_tokens() -> None:
    """`DynamoHandler.transact_write_items` answers a token it kept without running the transaction."""
    original = DynamoHandler.transact_write_items

    def transact_write_items(self):
        token = self.body.get("ClientRequestToken")
        if not token:
            return original(self)
        ONE_AT_A_TIME.require("DynamoDB TransactWriteItems")
        _forget_expired(time.monotonic())
        raw = self.raw_body if isinstance(self.raw_body, bytes) else self.raw_body.encode()
        digest, key = hashlib.sha256(raw).hexdigest(), (self.current_account, self.region, token)
        kept = _succeeded.get(key)
        if kept is not None:
            if kept[0] != digest:
                raise IdempotentParameterMismatch()
            return kept[2]
        answer = original(self)
        _succeeded[key] = (digest, time.monotonic(), answer)
        return answer

    DynamoHandler.transact_write_items = transact_write_items


def _forget_expired(now: float) -> None:
    while _succeeded:
        key, (_, completed, _) = next(iter(_succeeded.items()))
        if now - completed <= TOKEN_SECONDS:
            return
        del _succeeded[key]
