"""The lean DynamoDB reads (`store.dynamodb_reads`): the request DynamoDB gets is the one botocore's
client sends (same URL, operation, body, SigV4 over the same headers), the answer is DynamoDB's JSON
as sent, and whatever is not a clean 200 (an error, a damaged body, a write) is left to botocore."""
from __future__ import annotations

import json
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import botocore.loaders
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from chalicelib import config
from chalicelib.store import dynamodb_reads

PARAMS = {"TableName": "obelisk-x-users", "Key": {"pk": {"S": "USER#abc"}, "sk": {"S": "PROFILE"}},
          "ConsistentRead": True, "ReturnConsumedCapacity": "TOTAL"}


@pytest.fixture(autouse=True)
def credentials(monkeypatch):
    for name, value in {"AWS_DEFAULT_REGION": "eu-west-3", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
                        "AWS_SECRET_ACCESS_KEY": "secret"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    config.reset()
    yield
    config.reset()


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


class _Raw:
    def stream(self):
        return iter([b"{}"])


def _botocore_request(endpoint: str, operation: str, params: dict):
    """What botocore's DynamoDB client sends for the same read (caught before it leaves)."""
    client = botocore.session.get_session().create_client(
        "dynamodb", region_name="eu-west-3", endpoint_url=endpoint, aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret", config=Config(parameter_validation=False))
    caught = {}

    def catch(request, **_):
        caught["request"] = request
        return AWSResponse(request.url, 200, {}, _Raw())

    client.meta.events.register("before-send.dynamodb.*", catch)
    client._make_api_call(operation, params)
    return caught["request"]


def test_the_read_is_the_request_botocore_sends():
    endpoint = "https://dynamodb.eu-west-3.amazonaws.com"
    ours, theirs = dynamodb_reads.signed(endpoint, "GetItem", PARAMS), _botocore_request(endpoint, "GetItem", PARAMS)
    assert ours.method == theirs.method == "POST"
    assert ours.url.rstrip("/") == theirs.url.rstrip("/")
    assert json.loads(ours.body) == json.loads(theirs.body) == PARAMS
    for header in ("X-Amz-Target", "Content-Type"):
        assert _text(ours.headers[header]) == _text(theirs.headers[header])

    def signed_headers(request):
        return _text(request.headers["Authorization"]).split("SignedHeaders=")[1].split(",")[0]

    assert signed_headers(ours) == signed_headers(theirs)
    assert ours.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-3/dynamodb/aws4_request" in ours.headers["Authorization"]


class _Server:
    """A local endpoint answering every POST with `status`, `body` and an `x-amz-crc32` (`crc`)."""

    def __init__(self, status: int, body: bytes, crc: int | None = None):
        self.requests: list[tuple[dict, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                outer.requests.append((dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("x-amz-crc32", str(zlib.crc32(body) if crc is None else crc))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(status: int, body: bytes, crc: int | None = None) -> _Server:
        servers.append(_Server(status, body, crc))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_an_answer_is_dynamodb_s_json_as_sent(serve):
    item = {"Item": {"pk": {"S": "USER#abc"}, "n": {"N": "3"}, "tags": {"SS": ["a", "b"]}}}
    server = serve(200, json.dumps(item).encode())
    assert dynamodb_reads.read(server.url, "GetItem", PARAMS) == item
    headers, body = server.requests[0]
    assert headers["X-Amz-Target"] == "DynamoDB_20120810.GetItem"
    assert json.loads(body) == PARAMS


@pytest.mark.parametrize("status, crc", [(400, None), (500, None), (200, 12345)])
def test_an_error_or_a_damaged_answer_is_left_to_botocore(serve, status, crc):
    """Throttling, a missing table, a server error, a body whose CRC32 differs: None, so the caller
    sends the read through its client (its retries, its `ClientError`)."""
    server = serve(status, b'{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"}'
                   if status != 200 else b'{"Item": {}}', crc)
    assert dynamodb_reads.read(server.url, "GetItem", PARAMS) is None
    assert len(server.requests) == 1


def test_no_connection_is_left_to_botocore(serve):
    server = serve(200, b"{}")
    server.close()
    assert dynamodb_reads.read(server.url, "Query", PARAMS) is None


@pytest.mark.parametrize("operation", ["PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems",
                                       "BatchWriteItem", "TransactGetItems"])
def test_what_is_not_a_plain_read_is_never_sent_here(serve, operation):
    server = serve(200, b"{}")
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
