"""A lean send for the DynamoDB requests a STOW makes (GetItem, BatchGetItem, Query,
TransactWriteItems: about one per instance). botocore spends 1-1.5 ms of CPU on each call
(docs/benchmarks.md, "STOW's API CPU, s8"), three quarters of it sending and parsing: request
events, its signer, retry and checksum handlers, the HTTP session, the response parser. This
takes the request botocore has built (serialized, endpoint resolved: what `before-call` receives,
the hook botocore offers for answering a call itself, as its Stubber does), signs it
(`signed_http.sign`: the clients' credentials, the client's region, the body's SHA-256), sends it
with urllib3 on connections kept like the clients' (`signed_http.Connections`) and gives botocore
the answer's JSON, which
for these operations is what botocore's parser returns (no blobs, no timestamps in them), with the
same `ResponseMetadata`. An error answer becomes the `Error` botocore makes of it (code from
`__type`, message, modelled fields such as `CancellationReasons`), so botocore raises the same
exception class and PynamoDB its same errors.

Left to botocore, which then sends the request itself (with its retries): any other operation; a
connection error, a 5xx answer or a throttling error (what botocore retries); an answer whose
`x-amz-crc32` does not match its body (botocore retries that too); an answer that is not a JSON
object; and a read whose answer holds
binary values (`B`, `BS`: botocore decodes them from base64; Obelisk's models have none). A
transaction's answer holds no attribute values. What it costs in maintenance: this module follows
DynamoDB's JSON protocol answers (`tests/unit/test_dynamodb_send.py` pins them against botocore's
own parsing); `models.py` attaches it to every PynamoDB client (`attach`)."""
from __future__ import annotations

import hashlib
import json
import zlib

import urllib3
from botocore.awsrequest import AWSResponse

from chalicelib.store import signed_http

OPERATIONS = frozenset({"GetItem", "BatchGetItem", "Query", "TransactWriteItems"})
READS = frozenset({"GetItem", "BatchGetItem", "Query"})
RETRIED_ERRORS = frozenset({"ThrottlingException", "ProvisionedThroughputExceededException",
                            "RequestLimitExceeded", "LimitExceededException"})
SIGNED = frozenset({"x-amz-target", "content-type"})  # of botocore's request headers (not its User-Agent)
_ATTACHED = "_obelisk_lean_send"


def _connections() -> signed_http.Connections:
    return signed_http.connections()


def attach(client):
    """The botocore DynamoDB client, its calls of `OPERATIONS` sent here from now on (once)."""
    if not getattr(client, _ATTACHED, False):
        client.meta.events.register("before-call.dynamodb", send)
        setattr(client, _ATTACHED, True)
    return client


def send(model, params: dict, context: dict, **_) -> tuple[AWSResponse, dict] | None:
    """botocore's `before-call` handler: (the HTTP answer, the parsed answer), or None to let
    botocore send the request (see the module's docstring)."""
    if model.name not in OPERATIONS:
        return None
    body, url = params["body"], params["url"]
    sent = {name: value for name, value in params["headers"].items() if name.lower() in SIGNED}
    headers = signed_http.sign("POST", url, sent, hashlib.sha256(body).hexdigest(), "dynamodb",
                               context["client_region"], content_sha256_header=False)
    try:
        answer = _connections().request("POST", url, body=body, headers=headers, preload_content=True)
    except (urllib3.exceptions.HTTPError, OSError):
        return None
    answer_headers = {name.lower(): value for name, value in answer.headers.items()}
    parsed = parse(model.name, answer.status, answer_headers, answer.data)
    if parsed is None:
        return None
    return AWSResponse(url, answer.status, answer_headers, None), parsed


def parse(operation: str, status: int, headers: dict[str, str], body: bytes) -> dict | None:
    """What botocore's parser makes of a DynamoDB answer, or None where botocore must send again."""
    if status >= 500 or not _checksum_matches(headers, body):
        return None
    if status == 200 and operation in READS and (b'"B":' in body or b'"BS":' in body):
        return None
    try:
        document = json.loads(body) if body else {}
    except ValueError:  # not DynamoDB's JSON (a proxy's page): botocore's parser says what it is,
        if status < 300 and operation not in READS:  # but a write that succeeded is not sent again
            raise
        return None
    if not isinstance(document, dict):
        return None
    if status >= 300:
        code = str(document.pop("__type", "")).rsplit("#", 1)[-1]
        if code in RETRIED_ERRORS:
            return None
        message = document.pop("message", None) or document.pop("Message", "")
        document = {"Error": {"Code": code, "Message": message}, **document}
    document["ResponseMetadata"] = {"RequestId": headers.get("x-amzn-requestid", ""), "HTTPStatusCode": status,
                                    "HTTPHeaders": headers, "RetryAttempts": 0}
    return document


def _checksum_matches(headers: dict[str, str], body: bytes) -> bool:
    """DynamoDB's `x-amz-crc32` of the answer's body, when it sends one (botocore checks it too)."""
    expected = headers.get("x-amz-crc32")
    return expected is None or str(zlib.crc32(body) & 0xFFFFFFFF) == expected
