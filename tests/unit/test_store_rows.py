"""`store.rows`: the study list's rows decoded from DynamoDB's JSON give the values PynamoDB's
models give for the same items, and botocore still parses what is not a plain answer."""
from __future__ import annotations

import json

from botocore.parsers import ResponseParserFactory

from chalicelib.store import rows
from chalicelib.store.listing import LISTED
from chalicelib.store.models import AlbumStudy, AlbumStudyCount, SeriesRecord

ATTRIBUTES = {"00100010": {"vr": "PN", "Value": [{"Alphabetic": "Rossi^Anna\\x"}]}, "00080020": {"vr": "DA", "Value": ["20200301"]}}
ALBUM_ROW = {"pk": {"S": "ALBUM#a"}, "sk": {"S": "STUDY#1.2"}, "album_id": {"S": "a"}, "study_uid": {"S": "1.2"},
             "listing": {"S": "20200301#1.2"}, "series_uids": {"SS": ["1.2.3", "1.2.4"]},
             "study_attributes": {"S": json.dumps(ATTRIBUTES)}, "series_modalities": {"SS": ["1.2.3=CT", "1.2.4=MR"]},
             "name_key": {"S": "rossi^anna\x1f20200301"}, "indexed": {"BOOL": True}}


def _as_pynamodb(model, item: dict, names: list[str]) -> dict:
    instance = model.from_raw_data(item)
    return {name: getattr(instance, name) for name in names if name in item}


def test_a_study_list_row_decodes_as_its_model_reads_it():
    decoded = rows.decode(AlbumStudy, ALBUM_ROW, LISTED)
    assert decoded == _as_pynamodb(AlbumStudy, ALBUM_ROW, LISTED)
    assert decoded["study_attributes"] == ATTRIBUTES and decoded["series_uids"] == {"1.2.3", "1.2.4"}
    assert "name_key" not in decoded, "only the attributes asked for"


def test_absent_attributes_are_left_out_and_numbers_are_numbers():
    item = {"pk": {"S": "STUDY#1.2"}, "sk": {"S": "SERIES#1.2.3"}, "study_uid": {"S": "1.2"},
            "series_uid": {"S": "1.2.3"}, "instance_count": {"N": "12"}}
    names = ["study_uid", "series_uid", "instance_count", "study_attributes"]
    assert rows.decode(SeriesRecord, item, names) == {"study_uid": "1.2", "series_uid": "1.2.3", "instance_count": 12}
    assert rows.decode(AlbumStudyCount, {"studies": {"N": "3"}}, ["studies", "indexed"]) == {"studies": 3}


def _response(status: int, body: dict) -> dict:
    return {"status_code": status, "headers": {"x-amzn-requestid": "r1"}, "body": json.dumps(body).encode()}


def test_an_answer_keeps_dynamodbs_json_and_its_metadata():
    parser = rows._KeptJsonFactory().create_parser("json")
    shape = None  # a plain answer's shape is not walked
    parsed = parser.parse(_response(200, {"Items": [ALBUM_ROW], "Count": 1}), shape)
    assert parsed["Items"] == [ALBUM_ROW] and parsed["Count"] == 1
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert parsed["ResponseMetadata"]["RequestId"] == "r1"


def test_an_error_is_parsed_as_botocore_parses_it():
    error = _response(400, {"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                            "message": "slow down"})
    parsed = rows._KeptJsonFactory().create_parser("json").parse(error, None)
    assert parsed == ResponseParserFactory().create_parser("json").parse(error, None)
    assert parsed["Error"]["Code"] == "ProvisionedThroughputExceededException"


def test_keys_left_unprocessed_are_asked_again_after_a_backoff(monkeypatch):
    """A throttled BatchGetItem answers part of its keys and returns the rest as UnprocessedKeys:
    they are asked for again, after a backoff, until every row is read."""
    item = {"pk": {"S": "STUDY#1.2"}, "sk": {"S": "SERIES#1.2.3"}, "series_uid": {"S": "1.2.3"}}
    later = {"pk": {"S": "STUDY#1.2"}, "sk": {"S": "SERIES#1.2.4"}, "series_uid": {"S": "1.2.4"}}
    table = SeriesRecord.Meta.table_name
    answers = [{"Responses": {table: [item]}, "UnprocessedKeys": {table: {"Keys": [{"pk": later["pk"], "sk": later["sk"]}]}}},
               {"Responses": {table: [later]}}]
    asked, waits = [], []

    class Client:
        def batch_get_item(self, RequestItems):  # noqa: N803 - botocore's parameter name
            asked.append(RequestItems)
            return answers[len(asked) - 1]

    monkeypatch.setattr(rows, "_client", lambda: Client())
    monkeypatch.setattr(rows.aws, "back_off", waits.append)
    found = rows._batch(SeriesRecord, [("STUDY#1.2", "SERIES#1.2.3"), ("STUDY#1.2", "SERIES#1.2.4")], ["series_uid"])
    assert found == [{"series_uid": "1.2.3"}, {"series_uid": "1.2.4"}]
    assert len(asked) == 2 and waits == [1]
