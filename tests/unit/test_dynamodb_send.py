"""The lean DynamoDB send (`store.dynamodb_send`): botocore's client, attached, sends a STOW's
operations once, signed, and returns what botocore's own parser returns; errors raise botocore's
modelled exceptions; what botocore would retry (or decode) goes through botocore's own send."""
from __future__ import annotations

import json
import zlib
from types import SimpleNamespace

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.parsers import create_parser

from chalicelib import config
from chalicelib.store import dynamodb_send

ITEM = {"pk": {"S": "STUDY#1.2"}, "sk": {"S": "SERIES#3.4"}, "instance_count": {"N": "8"},
        "attributes": {"S": "{\"00080060\": {\"vr\": \"CS\"}}"}, "names": {"SS": ["a", "b"]},
        "flags": {"M": {"add_user": {"BOOL": True}, "gone": {"NULL": True}}}, "list": {"L": [{"N": "1.5"}]}}
ANSWERS = {
    "GetItem": {"Item": ITEM, "ConsumedCapacity": {"TableName": "t", "CapacityUnits": 0.5}},
    "BatchGetItem": {"Responses": {"t": [ITEM]}, "UnprocessedKeys": {"t": {"Keys": [{"pk": {"S": "x"}, "sk": {"S": "y"}}]}}},
    "Query": {"Items": [ITEM], "Count": 1, "ScannedCount": 3, "LastEvaluatedKey": {"pk": {"S": "x"}, "sk": {"S": "y"}}},
    "TransactWriteItems": {"ConsumedCapacity": [{"TableName": "t", "CapacityUnits": 2.0}]},
}
CANCELLED = {"__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
             "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons "
                        "[None, ConditionalCheckFailed]",
             "CancellationReasons": [{"Code": "None"}, {"Code": "ConditionalCheckFailed",
                                                        "Message": "The conditional request failed"}]}
CONDITION = {"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
             "message": "The conditional request failed"}


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
                        "AWS_DEFAULT_REGION": "eu-west-3"}.items():
        monkeypatch.setenv(name, value)
    config.reset()
    yield
    config.reset()


class _Answers:
    """The lean send's connections: each request recorded, answered with `status` and `body`."""

    def __init__(self, status: int = 200, body: dict | bytes = b"{}", crc: int | None = None, refuse: bool = False):
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.status, self.refuse, self.sent = status, refuse, []
        self.crc = zlib.crc32(self.body) if crc is None else crc

    def request(self, method, url, *, body, headers, preload_content=True):
        self.sent.append(SimpleNamespace(method=method, url=url, body=body, headers=headers))
        if self.refuse:
            raise ConnectionRefusedError
        return SimpleNamespace(status=self.status, data=self.body,
                               headers={"x-amzn-RequestId": "R1", "x-amz-crc32": str(self.crc)})


def _client(monkeypatch, answers: _Answers):
    """A DynamoDB client attached to the lean send, its own send (botocore's) recorded instead."""
    client = botocore.session.get_session().create_client(
        "dynamodb", "eu-west-3", endpoint_url="https://dynamodb.eu-west-3.amazonaws.com")
    own: list[str] = []

    def botocore_send(operation_model, request_dict):
        own.append(operation_model.name)
        return AWSResponse(request_dict["url"], 200, {}, None), {"Sent": "by botocore"}

    monkeypatch.setattr(client._endpoint, "make_request", botocore_send)
    monkeypatch.setattr(dynamodb_send, "_connections", lambda: answers)
    return dynamodb_send.attach(client), own


def _botocore_parsed(operation: str, status: int, body: bytes, headers: dict) -> dict:
    """What botocore's parser returns for the answer (with an error's modelled fields)."""
    model = botocore.session.get_session().get_service_model("dynamodb").operation_model(operation)
    parser = create_parser("json")
    response = {"status_code": status, "headers": headers, "body": body}
    parsed = parser.parse(response, model.output_shape)
    if status >= 300:
        code = parsed["Error"]["Code"]
        shape = next((s for s in model.error_shapes if s.error_code == code), None)
        if shape is not None:
            parsed.update(parser.parse(response, shape))
    parsed["ResponseMetadata"]["RetryAttempts"] = 0  # what botocore's endpoint adds to a first answer
    return parsed


@pytest.mark.parametrize("operation", sorted(ANSWERS))
def test_an_answer_is_parsed_as_botocore_parses_it(operation):
    body = json.dumps(ANSWERS[operation]).encode()
    headers = {"x-amzn-requestid": "R1", "x-amz-crc32": str(zlib.crc32(body))}
    assert dynamodb_send.parse(operation, 200, headers, body) == _botocore_parsed(operation, 200, body, headers)


@pytest.mark.parametrize("error", [CANCELLED, CONDITION])
def test_an_error_is_parsed_as_botocore_parses_it(error):
    body = json.dumps(error).encode()
    headers = {"x-amzn-requestid": "R1"}
    ours = dynamodb_send.parse("TransactWriteItems", 400, headers, body)
    botocore_s = _botocore_parsed("TransactWriteItems", 400, body, headers)
    assert ours["Error"] == botocore_s["Error"]
    assert ours.get("CancellationReasons") == botocore_s.get("CancellationReasons")


def test_a_read_is_sent_once_signed_and_returned(monkeypatch):
    answers = _Answers(body=ANSWERS["GetItem"])
    client, own = _client(monkeypatch, answers)
    answer = client.get_item(TableName="t", Key={"pk": {"S": "STUDY#1.2"}, "sk": {"S": "SERIES#3.4"}},
                             ConsistentRead=True)
    assert answer["Item"] == ITEM and answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert own == [] and len(answers.sent) == 1
    sent = answers.sent[0]
    assert (sent.method, sent.url) == ("POST", "https://dynamodb.eu-west-3.amazonaws.com/")
    assert json.loads(sent.body) == {"TableName": "t", "Key": {"pk": {"S": "STUDY#1.2"}, "sk": {"S": "SERIES#3.4"}},
                                     "ConsistentRead": True}
    assert sent.headers["X-Amz-Target"] == "DynamoDB_20120810.GetItem"
    assert sent.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-3/dynamodb/aws4_request" in sent.headers["Authorization"]


def test_an_error_raises_botocore_s_modelled_exception(monkeypatch):
    client, own = _client(monkeypatch, _Answers(400, CANCELLED))
    with pytest.raises(client.exceptions.TransactionCanceledException) as raised:
        client.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": ITEM}}])
    assert raised.value.response["CancellationReasons"][1]["Code"] == "ConditionalCheckFailed"
    assert "ConditionalCheckFailed" in str(raised.value) and own == []


@pytest.mark.parametrize("answers", [
    _Answers(refuse=True), _Answers(500, {"__type": "x#InternalServerError", "message": "busy"}),
    _Answers(400, {"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException", "message": "slow"}),
    _Answers(body=ANSWERS["GetItem"], crc=1),
    _Answers(body={"Item": {"pk": {"S": "a"}, "data": {"B": "AAE="}}}), _Answers(403, b"<html>Forbidden</html>"),
], ids=["refused", "5xx", "throttled", "checksum", "binary", "not JSON"])
def test_what_botocore_retries_or_decodes_goes_through_botocore(monkeypatch, answers):
    client, own = _client(monkeypatch, answers)
    assert client.get_item(TableName="t", Key={"pk": {"S": "a"}, "sk": {"S": "b"}}) == {"Sent": "by botocore"}
    assert own == ["GetItem"]


def test_other_operations_go_through_botocore(monkeypatch):
    answers = _Answers()
    client, own = _client(monkeypatch, answers)
    client.update_item(TableName="t", Key={"pk": {"S": "a"}, "sk": {"S": "b"}}, UpdateExpression="SET x = :x",
                       ExpressionAttributeValues={":x": {"S": "y"}})
    assert own == ["UpdateItem"] and answers.sent == []


def test_the_models_and_transactions_send_through_it(monkeypatch):
    from chalicelib.store import models

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    config.reset()
    answers = _Answers(body=ANSWERS["GetItem"])
    monkeypatch.setattr(dynamodb_send, "_connections", lambda: answers)
    assert models.SeriesRecord.get("STUDY#1.2", "SERIES#3.4").instance_count == 8
    assert answers.sent[-1].headers["X-Amz-Target"] == "DynamoDB_20120810.GetItem"
    answers.body = answers_body = json.dumps(ANSWERS["TransactWriteItems"]).encode()
    answers.crc = zlib.crc32(answers_body)
    with models.transact() as transaction:
        transaction.save(models.SeriesRecord("STUDY#1.2", "SERIES#3.4", study_uid="1.2", series_uid="3.4",
                                             attributes={}))
    assert answers.sent[-1].headers["X-Amz-Target"] == "DynamoDB_20120810.TransactWriteItems"
