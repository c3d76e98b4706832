"""Single-use secrets (launch tickets, authorization codes): stored only as SHA-256 hashes in the
tokens table with a TTL, consumed with one conditional delete so a second use always fails."""
from __future__ import annotations

import hashlib
import json
import secrets
import time

from chalicelib.config import settings
from chalicelib.store.aws import client


def _key(kind: str, secret: str) -> dict:
    digest = hashlib.sha256(secret.encode()).hexdigest()
    return {"pk": {"S": f"{kind}#{digest}"}, "sk": {"S": "ONCE"}}


def issue(kind: str, payload: dict, lifetime_seconds: int) -> str:
    """A fresh random secret bound to `payload`, valid for `lifetime_seconds`."""
    secret = secrets.token_urlsafe(32)
    expires = int(time.time()) + lifetime_seconds
    client("dynamodb").put_item(
        TableName=settings().tokens_table,
        Item={**_key(kind, secret), "payload": {"S": json.dumps(payload)}, "expires_at": {"N": str(expires)}},
        ConditionExpression="attribute_not_exists(pk)",
    )
    return secret


def consume(kind: str, secret: str) -> dict | None:
    """The payload of an unexpired, unused secret, deleting it; None otherwise (also on replay)."""
    if not secret or len(secret) > 256:
        return None
    dynamodb = client("dynamodb")
    try:
        old = dynamodb.delete_item(
            TableName=settings().tokens_table, Key=_key(kind, secret), ReturnValues="ALL_OLD",
            ConditionExpression="attribute_exists(pk) AND expires_at > :now",
            ExpressionAttributeValues={":now": {"N": str(int(time.time()))}},
        )
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return None
    return json.loads(old["Attributes"]["payload"]["S"])


def remember(kind: str, value: str, lifetime_seconds: int) -> bool:
    """Records that `value` was seen; False when it already was (replay protection)."""
    dynamodb = client("dynamodb")
    try:
        dynamodb.put_item(
            TableName=settings().tokens_table,
            Item={**_key(kind, value), "expires_at": {"N": str(int(time.time()) + max(lifetime_seconds, 1))}},
            ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
            ExpressionAttributeValues={":now": {"N": str(int(time.time()))}},
        )
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return False
    return True
