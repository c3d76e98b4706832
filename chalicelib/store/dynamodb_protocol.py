"""DynamoDB's JSON protocol without botocore's client pipeline, for the requests sent lean
(`dynamodb_reads`, `dynamodb_transactions`): the request a DynamoDB client sends (a POST of the
parameters as JSON, `X-Amz-Target` naming the operation), its body the bytes botocore writes
(`json.dumps` of the parameters, `B` values base64-encoded, sets as lists), signed and sent as the
lean S3 PUT is (`signed_http`: SigV4 with the clients' credentials and region, kept-alive
connections); the answer's JSON returned as DynamoDB sent it (what botocore's parser returns for
these operations: strings, numbers as strings, sets as lists). botocore's pipeline cost ~1.5 ms of
CPU per request whatever its size (event hooks, endpoint rules, the User-Agent built twice, header
parsing through `email`, the walk of the answer's shape: docs/benchmarks.md, "A search's fixed
cost, s8"), and more for a request whose parameters it walks to serialize (a STOW's transaction:
"STOW's transaction without botocore, s10").

Only a 200 with an intact body (its `x-amz-crc32`, which botocore checks too) is an answer here;
anything else, or a connection error, gives None, and the caller sends the request through its
botocore client, with its retries and its errors (`ClientError`, throttling). Whether that second
send is safe is the caller's to say (`dynamodb_reads`, `dynamodb_transactions`).

The body is botocore's because botocore's JSON serializer only copies the parameters, which
PynamoDB hands over as DynamoDB's JSON already, except blobs: botocore base64-encodes a `B` value,
bytes as PynamoDB's binary attributes give it (a `str` there botocore would encode too; none of
Obelisk's models has a binary attribute). `tests/unit/test_dynamodb_transactions.py` compares the
bytes with botocore's for a STOW's transaction."""
from __future__ import annotations

import base64
import hashlib
import json
import zlib

import urllib3

from chalicelib import config
from chalicelib.store import signed_http

TARGET = "DynamoDB_20120810."
CONTENT_TYPE = "application/x-amz-json-1.0"


def _blob_or_set(value):
    """What `json.dumps` cannot write as is, as botocore's serializer writes it."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not a DynamoDB parameter value")


def body(params: dict) -> bytes:
    """The request's body as botocore's JSON serializer writes it."""
    return json.dumps(params, default=_blob_or_set).encode()


def signed(endpoint_url: str, operation: str, params: dict) -> signed_http.SignedRequest:
    """The request of `operation` as a DynamoDB client sends it, SigV4-signed by `signed_http`."""
    payload = body(params)
    url = endpoint_url.rstrip("/") + "/"
    headers = signed_http.sign("POST", url, {"Content-Type": CONTENT_TYPE, "X-Amz-Target": TARGET + operation},
                               hashlib.sha256(payload).hexdigest(), "dynamodb", config.settings().region,
                               content_sha256_header=False)
    return signed_http.SignedRequest("POST", url, payload, headers)


def send(endpoint_url: str, operation: str, params: dict, *, repeatable: bool) -> dict | None:
    """DynamoDB's answer to the request, or None (see the module's docstring). `repeatable`: whether
    it may be sent again on a new connection when a kept one fails (`signed_http.Connections`)."""
    request = signed(endpoint_url, operation, params)
    try:
        answer = signed_http.connections().request("POST", request.url, body=request.body, headers=request.headers,
                                                   repeatable=repeatable)
    except urllib3.exceptions.HTTPError:
        return None
    if answer.status != 200 or not _intact(answer):
        return None
    try:
        return json.loads(answer.data)
    except ValueError:
        return None


def _intact(answer: signed_http.Answer) -> bool:
    expected = answer.headers.get("x-amz-crc32")
    return expected is None or zlib.crc32(answer.data) == int(expected)
