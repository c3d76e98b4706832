"""The lean DynamoDB reads (`store.dynamodb_reads`): the request DynamoDB gets is the one botocore's
client sends (same URL, operation, body bytes, SigV4 over the same headers), the answer is DynamoDB's JSON
as sent, and whatever is not a clean 200 (an error, a damaged body, a write) is left to botocore."""
from __future__ import annotations

import json
import threading

import botocore.loaders
import pytest

from chalicelib import config
from chalicelib.store import dynamodb_protocol, dynamodb_reads
from tests.support.dynamodb_endpoint import botocore_request, use_example_credentials

PARAMS = {"TableName": "obelisk-x-users", "Key": {"pk": {"S": "USER#abc"}, "sk": {"S": "PROFILE"}},
          "ConsistentRead": True, "ReturnConsumedCapacity": "TOTAL"}


@pytest.fixture(autouse=True)
def credentials(monkeypatch):
    use_example_credentials(monkeypatch)
    yield
    config.reset()


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def test_the_read_is_the_request_botocore_sends():
    endpoint = "https://dynamodb.eu-west-3.amazonaws.com"
    ours, theirs = dynamodb_protocol.signed(endpoint, "GetItem", PARAMS), botocore_request(endpoint, "GetItem", PARAMS)
    assert ours.method == theirs.method == "POST"
    assert ours.url.rstrip("/") == theirs.url.rstrip("/")
    assert ours.body == theirs.body and json.loads(ours.body) == PARAMS
    for header in ("X-Amz-Target", "Content-Type"):
        assert _text(ours.headers[header]) == _text(theirs.headers[header])

    def signed_headers(request):
        return _text(request.headers["Authorization"]).split("SignedHeaders=")[1].split(",")[0]

    assert signed_headers(ours) == signed_headers(theirs)
    assert ours.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-3/dynamodb/aws4_request" in ours.headers["Authorization"]


def test_an_answer_is_dynamodb_s_json_as_sent(dynamodb_endpoint):
    item = {"Item": {"pk": {"S": "USER#abc"}, "n": {"N": "3"}, "tags": {"SS": ["a", "b"]}}}
    server = dynamodb_endpoint(200, json.dumps(item).encode())
    assert dynamodb_reads.read(server.url, "GetItem", PARAMS) == item
    headers, body = server.requests[0]
    assert headers["X-Amz-Target"] == "DynamoDB_20120810.GetItem"
    assert json.loads(body) == PARAMS


@pytest.mark.parametrize("status, crc", [(400, None), (500, None), (200, 12345)])
def test_an_error_or_a_damaged_answer_is_left_to_botocore(dynamodb_endpoint, status, crc):
    """Throttling, a missing table, a server error, a body whose CRC32 differs: None, so the caller
    sends the read through its client (its retries, its `ClientError`)."""
    server = dynamodb_endpoint(status, b'{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"}'
                   if status != 200 else b'{"Item": {}}', crc)
    assert dynamodb_reads.read(server.url, "GetItem", PARAMS) is None
    assert len(server.requests) == 1


def test_no_connection_is_left_to_botocore(dynamodb_endpoint):
    server = dynamodb_endpoint(200, b"{}")
    server.close()
    assert dynamodb_reads.read(server.url, "Query", PARAMS) is None


@pytest.mark.parametrize("operation", ["PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems",
                                       "BatchWriteItem", "TransactGetItems"])
def test_what_is_not_a_plain_read_is_never_sent_here(dynamodb_endpoint, operation):
    server = dynamodb_endpoint(200, b"{}")
    assert dynamodb_reads.read(server.url, operation, PARAMS) is None
    assert server.requests == []


def test_models_first_used_on_other_threads_read_dynamodbs_service_model_once(monkeypatch):
    """Each request of the local API, and each worker of the shared pool, is a thread of its own;
    PynamoDB made a botocore session per thread, so every model's client made on a new thread
    parsed DynamoDB's service model again (~85 ms of CPU)."""
    from chalicelib.store import models

    loaded = []
    load_file = botocore.loaders.JSONFileLoader.load_file

    def counting(self, file_path, *args, **kwargs):
        found = load_file(self, file_path, *args, **kwargs)
        if found is not None and "/dynamodb/" in str(file_path) and str(file_path).endswith("service-2"):
            loaded.append(threading.current_thread().name)
        return found

    monkeypatch.setattr(botocore.loaders.JSONFileLoader, "load_file", counting)
    used = [models.UserProfile, models.Album, models.AlbumMember]
    threads = [threading.Thread(target=lambda m=m: m._get_connection().connection.client) for m in used]
    for thread in threads:
        thread.start()
        thread.join()
    clients = {id(m._get_connection().connection.client) for m in used}
    assert len(clients) == len(used)  # each model keeps its own connection and client
    assert len(loaded) <= 1, loaded
