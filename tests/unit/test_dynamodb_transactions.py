"""The lean transaction (`store.dynamodb_transactions`, through `dynamodb_connection.LeanConnection`):
DynamoDB gets the bytes botocore's client sends for a STOW's commit, its token included; any answer
but an intact 200 surfaces as it does through botocore alone (the same error after the same
attempts, one lean request before them); and the transaction is never sent twice but with the same
`ClientRequestToken` (a connection lost after sending: no second lean send, botocore's with the
token)."""
from __future__ import annotations

import http.client
import json
import socket

import pytest
from botocore.retries import standard
from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import config
from chalicelib.services import ingest
from chalicelib.store import dynamodb_protocol, dynamodb_transactions, listing, shares, signed_http
from chalicelib.store.dynamodb_connection import LeanConnection
from chalicelib.store.models import InstanceRecord, SeriesRecord
from tests.support.dynamodb_endpoint import botocore_request, use_example_credentials

STUDY, SERIES, ALBUM = "1.2.826.0.1.3680043.8.498.1", "1.2.826.0.1.3680043.8.498.1.2", "album-1"
IDENTITY = {"00100010": {"vr": "PN", "Value": [{"Alphabetic": "Müller^Jürgen"}]},
            "00100020": {"vr": "LO", "Value": ["PID-7"]}, "00080050": {"vr": "SH", "Value": ["ACC 42"]},
            "00080020": {"vr": "DA", "Value": ["20240102"]}, "0020000D": {"vr": "UI", "Value": [STUDY]}}
CANCELLED = json.dumps({
    "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
    "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons "
               "[ConditionalCheckFailed, None]",
    "CancellationReasons": [{"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"},
                            {"Code": "None"}]}).encode()
THROTTLED = b'{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}'


@pytest.fixture(autouse=True)
def credentials(monkeypatch):
    use_example_credentials(monkeypatch)
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)  # retries at once
    yield
    config.reset()


def _stow_commit(transaction: TransactWrite) -> None:
    """What `ingest.Ingest._commit` puts in a STOW's transaction: 8 instance rows, the series and
    study rows, the album's share and its new study row with its search keys and term rows."""
    moment = "2026-12-07T10:00:00.000000"
    for i in range(8):
        sop = f"{SERIES}.{i + 1}"
        transaction.save(InstanceRecord(
            *InstanceRecord.key(STUDY, SERIES, sop), study_uid=STUDY, series_uid=SERIES, sop_uid=sop,
            sop_class_uid="1.2.840.10008.5.1.4.1.1.2", transfer_syntax_uid="1.2.840.10008.1.2.1",
            attributes={**IDENTITY, "00080018": {"vr": "UI", "Value": [sop]}, "00200013": {"vr": "IS", "Value": [i + 1]},
                        "00280030": {"vr": "DS", "Value": [0.488281, 0.488281]}},
            size=524_288 + i, number_of_frames=1, stored_at=moment, generation=f"g{i:02d}"),
            condition=InstanceRecord.pk.does_not_exist())
    transaction.update(SeriesRecord(*SeriesRecord.key(STUDY, SERIES)), actions=[
        SeriesRecord.study_uid.set(STUDY), SeriesRecord.series_uid.set(SERIES),
        SeriesRecord.attributes.set(SeriesRecord.attributes | {"00080060": {"vr": "CS", "Value": ["CT"]}}),
        SeriesRecord.study_attributes.set(SeriesRecord.study_attributes | IDENTITY),
        SeriesRecord.instance_count.add(8), SeriesRecord.generation.set(SeriesRecord.generation | "gs")])
    shares.write_share(transaction, ALBUM, STUDY, SERIES, moment, None, only_new=False)
    listing.add(transaction, ALBUM, STUDY, SERIES, IDENTITY, "CT", True, 8)


def _stow_commit_params() -> dict:
    """The parameters PynamoDB hands its connection for `_stow_commit`, with binary values and a set
    besides (none of Obelisk's rows has them; botocore base64-encodes a `B`)."""
    caught = []

    class Caught(Connection):
        def _make_api_call(self, operation_name, operation_kwargs):
            caught.append(operation_kwargs)
            return {}

    with TransactWrite(connection=Caught(region="eu-west-3")) as transaction:
        _stow_commit(transaction)
    params = caught[0]
    params["TransactItems"].append({"Put": {"TableName": "obelisk-x-dicom", "Item": {
        "pk": {"S": "BLOB#1"}, "sk": {"S": "META"}, "blob": {"B": b"\x00\xff\x10DICM"},
        "blobs": {"BS": [b"\x01\x02", b"\xfe"]}, "tags": {"SS": {"b", "a", "ü"}},
        "m": {"M": {"n": {"N": "1.50"}, "l": {"L": [{"NULL": True}, {"BOOL": False}]}}}}}})
    return params


def test_botocore_gives_every_transaction_a_token_and_keeps_a_given_one():
    params = _stow_commit_params()
    made = json.loads(botocore_request("https://dynamodb.eu-west-3.amazonaws.com", "TransactWriteItems",
                                       dict(params)).body)  # botocore adds it to the dict it is given
    assert len(made["ClientRequestToken"]) == 36
    tokened = dynamodb_transactions.with_token(params)
    assert list(tokened)[-1] == "ClientRequestToken" and tokened["ClientRequestToken"] != made["ClientRequestToken"]
    assert dynamodb_transactions.with_token(tokened) is tokened


def test_a_stow_s_transaction_is_the_request_botocore_sends():
    endpoint = "https://dynamodb.eu-west-3.amazonaws.com"
    params = dynamodb_transactions.with_token(_stow_commit_params())
    ours = dynamodb_protocol.signed(endpoint, "TransactWriteItems", params)
    theirs = botocore_request(endpoint, "TransactWriteItems", params)
    assert ours.body == theirs.body
    sent = json.loads(ours.body)
    assert sent["ClientRequestToken"] == params["ClientRequestToken"]
    assert sent["TransactItems"][-1]["Put"]["Item"]["blob"] == {"B": "AP8QRElDTQ=="}
    assert ours.url.rstrip("/") == theirs.url.rstrip("/") and ours.method == theirs.method == "POST"
    for header in ("X-Amz-Target", "Content-Type"):
        assert ours.headers[header] == theirs.headers[header].decode()

    def signed_headers(value):
        return (value.decode() if isinstance(value, bytes) else value).split("SignedHeaders=")[1].split(",")[0]

    assert signed_headers(ours.headers["Authorization"]) == signed_headers(theirs.headers["Authorization"])


def _commit(endpoint_url: str, connection_class=LeanConnection):
    with TransactWrite(connection=connection_class(host=endpoint_url, region="eu-west-3")) as transaction:
        transaction.update(SeriesRecord(*SeriesRecord.key(STUDY, SERIES)), actions=[SeriesRecord.instance_count.add(8)])
        transaction.save(InstanceRecord(*InstanceRecord.key(STUDY, SERIES, "1.2.3"), study_uid=STUDY, series_uid=SERIES,
                                        sop_uid="1.2.3", sop_class_uid="1.2", transfer_syntax_uid="1.2",
                                        attributes={}, size=1, stored_at="now"),
                         condition=InstanceRecord.pk.does_not_exist())


def _token(body: bytes) -> str:
    return json.loads(body)["ClientRequestToken"]


def test_an_intact_200_is_the_transaction_s_success_in_one_lean_request(dynamodb_endpoint):
    endpoint = dynamodb_endpoint(200, b'{"ConsumedCapacity":[{"TableName":"obelisk-x-dicom","CapacityUnits":4.0}]}')
    _commit(endpoint.url)
    [(headers, body)] = endpoint.requests
    assert headers["X-Amz-Target"] == "DynamoDB_20120810.TransactWriteItems"
    assert "Botocore" not in headers.get("User-Agent", "")  # sent lean, not by botocore's client
    assert len(_token(body)) == 36


def _outcome(endpoint_url: str, connection_class) -> TransactWriteError | None:
    try:
        _commit(endpoint_url, connection_class)
    except TransactWriteError as error:
        return error
    return None


@pytest.mark.parametrize("status, answer, crc", [
    (400, CANCELLED, None),  # a condition failed: the cancellation reasons the callers read
    (400, THROTTLED, None),  # throttled: botocore's retries
    (500, b'{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError"}', None),
    (200, b"{}", 12345),  # a damaged answer: botocore's CRC32 retries, then its answer taken
], ids=["cancelled", "throttled", "server-error", "damaged"])
def test_any_other_answer_surfaces_as_through_botocore_after_its_attempts(dynamodb_endpoint, status, answer, crc):
    """The same outcome as through a plain PynamoDB connection, after the same botocore attempts,
    one lean request before them, every request the same bytes with the same token."""
    plain, lean = dynamodb_endpoint(status, answer, crc), dynamodb_endpoint(status, answer, crc)
    through_botocore, through_lean = _outcome(plain.url, Connection), _outcome(lean.url, LeanConnection)
    assert (through_lean is None) == (through_botocore is None) == (status == 200)
    if through_lean is not None:
        assert str(through_lean.cause) == str(through_botocore.cause)
        assert through_lean.cancellation_reasons == through_botocore.cancellation_reasons
        assert ingest._conflict_or_condition(through_lean) == (answer == CANCELLED)
    assert len(plain.requests) == (1 if answer == CANCELLED else 4)  # PynamoDB's botocore: 4 attempts
    assert len(lean.requests) == len(plain.requests) + 1
    assert "Botocore" not in lean.requests[0][0].get("User-Agent", "")
    assert len({body for _, body in lean.requests}) == 1


class _SentThenLost:
    """A kept connection that sends the request, then loses its answer: whether DynamoDB applied
    the transaction is unknown."""

    def __init__(self):
        self.sent: list[bytes] = []
        self.sock, self._peer = socket.socketpair()

    def request(self, method, path, body, headers):
        self.sent.append(body)

    def getresponse(self):
        raise http.client.RemoteDisconnected("Remote end closed connection without response")

    def close(self):
        self.sock.close()
        self._peer.close()


def test_a_transaction_whose_answer_was_lost_is_sent_again_only_by_botocore_with_its_token(dynamodb_endpoint):
    """No second lean send on a new connection, and no send without the first one's token: the
    only other request is botocore's, the same bytes, which DynamoDB answers without applying the
    transaction again if the first was applied."""
    endpoint = dynamodb_endpoint(200, b"{}")
    lost = _SentThenLost()
    signed_http.connections()._give_back(endpoint.url, lost)
    _commit(endpoint.url)
    [first] = lost.sent
    [(headers, again)] = endpoint.requests
    assert "Botocore" in headers.get("User-Agent", "")  # not a second lean send
    assert again == first and len(_token(first)) == 36


def test_a_transaction_without_its_token_is_never_sent_lean(dynamodb_endpoint):
    endpoint = dynamodb_endpoint(200, b"{}")
    with pytest.raises(ValueError):
        dynamodb_transactions.write(endpoint.url, {"TransactItems": []})
    assert endpoint.requests == []
