"""Rows read on the study list's hot path without building PynamoDB models: the one home of that
row decoder. A model instance per row and botocore's walk of the answer's shape (every attribute
of every item, recursively) were two thirds of the list's API CPU (docs/benchmarks.md, "The
study list's CPU"). Here the answer stays DynamoDB's JSON as it arrives (`_KeptJson`), and only
the attributes asked for are decoded, each by its model attribute's own deserializer (`decode`):
the values are those PynamoDB would give. The requests are those PynamoDB sends for the same
reads: one Query per page, one BatchGetItem per 100 keys (sent at once), unprocessed keys retried."""
from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Callable

import botocore.session
from botocore.config import Config
from botocore.parsers import ResponseParserFactory
from pynamodb.attributes import Attribute, JSONAttribute
from pynamodb.indexes import Index
from pynamodb.models import Model

from chalicelib import config
from chalicelib.store import aws, dynamodb_reads

Row = dict  # attribute name -> value, as the model's attribute deserializes it
BATCH_KEYS = 100  # keys a BatchGetItem request takes
_JSON = json.JSONDecoder(strict=False).decode  # JSONAttribute's `json.loads(value, strict=False)`, one decoder


class _KeptJson:
    """botocore's JSON parser for errors (and their retries); a successful answer is the JSON as
    DynamoDB sent it, which is what botocore's walk returns for these operations (strings, numbers
    as strings, sets as lists: no blobs or timestamps in the attributes read here)."""

    def __init__(self, parser):
        self._parser = parser

    def parse(self, response: dict, shape) -> dict:
        if response["status_code"] != 200 or not response["body"]:
            return self._parser.parse(response, shape)
        parsed = self._parser.parse({**response, "body": b"{}"}, shape)  # the response metadata alone
        parsed.update(json.loads(response["body"]))
        return parsed


class _KeptJsonFactory(ResponseParserFactory):
    def create_parser(self, protocol_name):
        return _KeptJson(super().create_parser(protocol_name))


class _LeanClient:
    """The two reads of this module, sent lean (`dynamodb_reads`), else through the botocore client
    (its retries and errors)."""

    def __init__(self, client):
        self._client = client

    def _read(self, operation: str, method: str, params: dict) -> dict:
        found = dynamodb_reads.read(self._client.meta.endpoint_url, operation, params)
        return found if found is not None else getattr(self._client, method)(**params)

    def query(self, **params) -> dict:
        return self._read("Query", "query", params)

    def batch_get_item(self, **params) -> dict:
        return self._read("BatchGetItem", "batch_get_item", params)


@functools.cache
def _client() -> _LeanClient:
    session = botocore.session.Session()
    session.register_component("response_parser_factory", _KeptJsonFactory())
    # The requests are built here, not from user input: botocore's validation of each is CPU for nothing.
    checked = aws.CLIENT_CONFIG.merge(Config(parameter_validation=False))
    return _LeanClient(session.create_client("dynamodb", region_name=config.settings().region, config=checked))


config.on_reset(_client.cache_clear)


@functools.cache
def _decoder(model: type[Model], name: str) -> Callable[[dict], object]:
    attribute: Attribute = model.get_attributes()[name]
    if isinstance(attribute, JSONAttribute):
        return lambda value: _JSON(value["S"])
    return lambda value: attribute.deserialize(attribute.get_value(value))


def decode(model: type[Model], item: dict, names: list[str]) -> Row:
    """The attributes `names` of a DynamoDB item (its JSON) that it has, as `model` reads them."""
    return {name: _decoder(model, name)(item[name]) for name in names if name in item}


def _projection(names: list[str]) -> dict:
    return {"ProjectionExpression": ", ".join(f"#a{i}" for i in range(len(names))),
            "ExpressionAttributeNames": {f"#a{i}": name for i, name in enumerate(names)}}


def query(model: type[Model], index: Index | None, hash_value: str, names: list[str], *, newest_first: bool = False,
          limit: int | None = None, page_size: int | None = None, starting: str = "") -> list[Row]:
    """The rows of `model` in its `index` (None: the table) under `hash_value`, those whose range
    key starts with `starting` (all with ""), in the key's order (`newest_first`: reversed),
    `limit` of them at most (None: all), `page_size` a request (None: 1 MB pages)."""
    keys = index if index is not None else model
    hash_name = keys._hash_key_attribute().attr_name
    projection = _projection(names)
    request = {"TableName": model.Meta.table_name, "KeyConditionExpression": "#h = :h",
               "ExpressionAttributeValues": {":h": {"S": hash_value}}, "ScanIndexForward": not newest_first,
               **projection, **({"IndexName": index.Meta.index_name} if index is not None else {})}
    request["ExpressionAttributeNames"] = {**projection["ExpressionAttributeNames"], "#h": hash_name}
    if starting:
        request["KeyConditionExpression"] += " AND begins_with(#r, :r)"
        request["ExpressionAttributeNames"]["#r"] = _range_key_name(keys)
        request["ExpressionAttributeValues"][":r"] = {"S": starting}
    found: list[Row] = []
    while limit is None or len(found) < limit:
        size = page_size if limit is None else min(page_size or limit, limit - len(found))
        answer = _client().query(**request, **({"Limit": size} if size else {}))
        found += [decode(model, item, names) for item in answer.get("Items", [])]
        if "LastEvaluatedKey" not in answer:
            break
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    return found


def _range_key_name(keys: type[Model] | Index) -> str:
    """The range key of a model or index (PynamoDB's indexes name only their hash key)."""
    return next(a.attr_name for a in (keys.get_attributes() if isinstance(keys, type) else keys.Meta.attributes).values()
                if a.is_range_key)


def batch_get(model: type[Model], keys: list[tuple[str, str]], names: list[str]) -> list[Row]:
    """The rows of `model` at `keys` (hash, range) that exist, in no particular order: one
    BatchGetItem per 100 keys, of even sizes, sent at once (`aws.together`)."""
    size = -(-len(keys) // -(-len(keys) // BATCH_KEYS)) if keys else 1
    reads = [functools.partial(_batch, model, keys[i:i + size], names) for i in range(0, len(keys), size)]
    return [row for rows in aws.together(*reads) for row in rows]


def _batch(model: type[Model], keys: list[tuple[str, str]], names: list[str]) -> list[Row]:
    hash_name, range_name = model._hash_key_attribute().attr_name, model._range_key_attribute().attr_name
    table = model.Meta.table_name
    pending = {table: {"Keys": [{hash_name: {"S": h}, range_name: {"S": r}} for h, r in keys], **_projection(names)}}
    found: list[Row] = []
    for attempt in itertools.count():
        if attempt:  # keys DynamoDB left unprocessed (throttled): asked again after a backoff, as AWS advises
            aws.back_off(attempt)
        answer = _client().batch_get_item(RequestItems=pending)
        found += [decode(model, item, names) for item in answer.get("Responses", {}).get(table, [])]
        pending = answer.get("UnprocessedKeys") or {}
        if not pending:
            return found
