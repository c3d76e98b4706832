"""DynamoDB reads (GetItem, Query, BatchGetItem) sent with less around them than botocore's client
pipeline: the request a client sends (DynamoDB's JSON protocol: a POST of the parameters as JSON,
`X-Amz-Target` naming the operation), signed and sent as the lean S3 PUT is (`signed_http`: SigV4
with the clients' credentials and region, urllib3 on kept-alive connections), the answer's JSON returned as
DynamoDB sent it (what botocore's parser returns for these operations: strings, numbers as strings,
sets as lists). botocore's pipeline cost ~1.5 ms of CPU per request whatever its size (event
hooks, endpoint rules, the User-Agent built twice, header parsing through `email`, the walk of the
answer's shape), six of them per study search, most of the search's API CPU (docs/benchmarks.md,
"A search's fixed cost, s8").

Reads only, so that sending one again is harmless: any answer but 200 with an intact body (its
`x-amz-crc32`, which botocore checks too), or a connection error, gives None and the caller sends
the read again through its botocore client, with its retries and its errors (`ClientError`,
throttling): a failed read costs one request more than through botocore alone. PynamoDB's models
read through `LeanReads` (`models._Item`), the study list's rows through `rows`."""
from __future__ import annotations

import hashlib
import json
import zlib

import urllib3
from pynamodb.connection import Connection

from chalicelib import config
from chalicelib.store import aws, signed_http

READS = frozenset({"GetItem", "Query", "BatchGetItem"})
TARGET = "DynamoDB_20120810."
CONTENT_TYPE = "application/x-amz-json-1.0"


def signed(endpoint_url: str, operation: str, params: dict) -> signed_http.SignedRequest:
    """The request of `operation` as a DynamoDB client sends it, SigV4-signed by `signed_http`."""
    body = json.dumps(params, separators=(",", ":")).encode()
    url = endpoint_url.rstrip("/") + "/"
    headers = signed_http.sign("POST", url, {"Content-Type": CONTENT_TYPE, "X-Amz-Target": TARGET + operation},
                               hashlib.sha256(body).hexdigest(), "dynamodb", config.settings().region,
                               content_sha256_header=False)
    return signed_http.SignedRequest("POST", url, body, headers)


def read(endpoint_url: str, operation: str, params: dict) -> dict | None:
    """The answer of a read (`READS`) as DynamoDB's JSON; None when it must go through botocore
    (another operation, an error answer, a damaged body, no connection)."""
    if operation not in READS:
        return None
    request = signed(endpoint_url, operation, params)
    try:
        answer = signed_http.connections().request("POST", request.url, body=request.body, headers=request.headers)
    except urllib3.exceptions.HTTPError:
        return None
    if answer.status != 200 or not _intact(answer):
        return None
    try:
        return json.loads(answer.data)
    except ValueError:
        return None


def _intact(answer) -> bool:
    expected = answer.headers.get("x-amz-crc32")
    return expected is None or zlib.crc32(answer.data) == int(expected)


class LeanReads(Connection):
    """A PynamoDB connection whose reads go through `read` (its writes, and reads `read` declines,
    through its botocore client as before), its client made from the process's botocore session
    (`aws.botocore_session`) rather than from one per thread."""

    @property
    def session(self):
        return aws.botocore_session()

    @property
    def client(self):
        with aws.CLIENT_CREATION:
            return super().client

    def _make_api_call(self, operation_name: str, operation_kwargs: dict) -> dict:
        found = read(self.client.meta.endpoint_url, operation_name, operation_kwargs)
        return found if found is not None else super()._make_api_call(operation_name, operation_kwargs)
