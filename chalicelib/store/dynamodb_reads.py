"""DynamoDB reads (GetItem, Query, BatchGetItem) sent lean (`dynamodb_protocol`): six of them per
study search were most of the search's API CPU through botocore's client pipeline
(docs/benchmarks.md, "A search's fixed cost, s8").

Reads only, so that sending one again is harmless: a kept connection that fails is replaced and
the read sent on a new one, and any answer but 200 with an intact body, or a connection error,
gives None and the caller sends the read again through its botocore client, with its retries and
its errors (`ClientError`, throttling): a failed read costs one request more than through botocore
alone. PynamoDB's models read through `dynamodb_connection.LeanConnection`, the study list's rows
through `rows`."""
from __future__ import annotations

from chalicelib.store import dynamodb_protocol

READS = frozenset({"GetItem", "Query", "BatchGetItem"})


def read(endpoint_url: str, operation: str, params: dict) -> dict | None:
    """The answer of a read (`READS`) as DynamoDB's JSON; None when it must go through botocore
    (another operation, an error answer, a damaged body, no connection)."""
    if operation not in READS:
        return None
    return dynamodb_protocol.send(endpoint_url, operation, params, repeatable=True)
