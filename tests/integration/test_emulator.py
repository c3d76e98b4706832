"""The local emulator keeps DynamoDB's guarantees that Obelisk relies on: a failed transaction
changes nothing, of concurrent conditional puts of the same item exactly one succeeds, and a
query, on the table's key or on a global secondary index, finds what a scan of the table finds (the
emulator answers it from the items under the hash key, `devstack/moto_patches/indexes.py`)."""
from __future__ import annotations

import random
import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.exceptions import ClientError


def _scratch_table(stack, attributes: tuple[str, ...] = ("pk", "sk"), **options):
    """A table of its own on the emulator (`pk`, `sk` keys), deleted after the module."""
    dynamodb = boto3.client("dynamodb", endpoint_url=stack.emulator_url, region_name="us-east-1",
                            aws_access_key_id="local", aws_secret_access_key="local")
    name = f"scratch-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                          AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in attributes], **options)
    yield dynamodb, name
    dynamodb.delete_table(TableName=name)


@pytest.fixture(scope="module")
def table(stack):
    yield from _scratch_table(stack)


def _item(dynamodb, name: str, pk: str):
    return dynamodb.get_item(TableName=name, Key={"pk": {"S": pk}, "sk": {"S": "x"}}, ConsistentRead=True).get("Item")


def test_a_cancelled_transaction_leaves_every_item_as_it_was(table):
    dynamodb, name = table
    dynamodb.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"S": "x"}, "v": {"N": "1"}})
    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(TransactItems=[
            {"Update": {"TableName": name, "Key": {"pk": {"S": "a"}, "sk": {"S": "x"}},
                        "UpdateExpression": "SET v = :two", "ExpressionAttributeValues": {":two": {"N": "2"}}}},
            {"Put": {"TableName": name, "Item": {"pk": {"S": "b"}, "sk": {"S": "x"}}}},
            {"ConditionCheck": {"TableName": name, "Key": {"pk": {"S": "c"}, "sk": {"S": "x"}},
                                "ConditionExpression": "attribute_exists(pk)"}},
        ])
    assert refused.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert _item(dynamodb, name, "a")["v"] == {"N": "1"}
    assert _item(dynamodb, name, "b") is None


def test_of_concurrent_conditional_puts_exactly_one_succeeds(table):
    dynamodb, name = table

    def claim(n: int) -> bool:
        try:
            dynamodb.transact_write_items(TransactItems=[{"Put": {
                "TableName": name, "Item": {"pk": {"S": "claimed"}, "sk": {"S": "x"}, "by": {"N": str(n)}},
                "ConditionExpression": "attribute_not_exists(pk)"}}])
            return True
        except ClientError:
            return False

    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(claim, range(32))) == 1


@pytest.fixture(scope="module")
def indexed(stack):
    yield from _scratch_table(stack, ("pk", "sk", "g", "r"), GlobalSecondaryIndexes=[
        {"IndexName": "by-g", "Projection": {"ProjectionType": "ALL"},
         "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}, {"AttributeName": "r", "KeyType": "RANGE"}]}])


def _pages(dynamodb, name: str, group: str, limit: int, forward: bool) -> list[list[tuple[str, str]]]:
    """Every page of an index query with `Limit`, following LastEvaluatedKey."""
    pages, start = [], {}
    while True:
        answer = dynamodb.query(TableName=name, IndexName="by-g", KeyConditionExpression="g = :g", Limit=limit,
                                ScanIndexForward=forward, ExpressionAttributeValues={":g": {"S": group}}, **start)
        pages.append([(i["r"]["S"], i["pk"]["S"]) for i in answer["Items"]])
        if "LastEvaluatedKey" not in answer:
            return pages
        start = {"ExclusiveStartKey": answer["LastEvaluatedKey"]}


def test_index_queries_find_what_a_scan_finds_after_every_kind_of_write(indexed):
    """Whole queries and pages of 3 (both directions; range values repeat, so ties are ordered by
    the table's key as moto orders them) against a scan, every 25 random writes."""
    dynamodb, name = indexed
    rng = random.Random(7)
    groups = [f"g{n}" for n in range(4)]

    def key(n):
        return {"pk": {"S": f"item{n}"}, "sk": {"S": "x"}}

    def range_value(step: int) -> str:
        return f"{step % 9:04}"

    for step in range(300):
        n, group, kind = rng.randrange(40), rng.choice(groups), rng.randrange(6)
        if kind == 0:
            dynamodb.put_item(TableName=name, Item={**key(n), "g": {"S": group}, "r": {"S": range_value(step)}})
        elif kind == 1:  # moves the item to another hash value, or gives it one
            dynamodb.update_item(TableName=name, Key=key(n), UpdateExpression="SET g = :g, r = :r",
                                 ExpressionAttributeValues={":g": {"S": group}, ":r": {"S": range_value(step)}})
        elif kind == 2:  # takes it out of the sparse index
            dynamodb.update_item(TableName=name, Key=key(n), UpdateExpression="REMOVE r")
        elif kind == 3:
            dynamodb.delete_item(TableName=name, Key=key(n))
        elif kind == 4:  # cancelled: the item is put back as it was
            with pytest.raises(ClientError):
                dynamodb.transact_write_items(TransactItems=[
                    {"Update": {"TableName": name, "Key": key(n), "UpdateExpression": "SET g = :g, r = :r",
                                "ExpressionAttributeValues": {":g": {"S": group}, ":r": {"S": "zzzz"}}}},
                    {"ConditionCheck": {"TableName": name, "Key": {"pk": {"S": "absent"}, "sk": {"S": "x"}},
                                        "ConditionExpression": "attribute_exists(pk)"}}])
        else:
            dynamodb.batch_write_item(RequestItems={name: [
                {"PutRequest": {"Item": {**key(n), "g": {"S": group}, "r": {"S": range_value(step)}}}},
                {"DeleteRequest": {"Key": key((n + 1) % 40)}}]})
        if step % 25 == 24:
            items = dynamodb.scan(TableName=name)["Items"]
            for g in groups:
                expected = sorted((i["r"]["S"], i["pk"]["S"]) for i in items if i.get("g", {}).get("S") == g and "r" in i)
                found = dynamodb.query(TableName=name, IndexName="by-g", KeyConditionExpression="g = :g",
                                       ExpressionAttributeValues={":g": {"S": g}})["Items"]
                assert [(i["r"]["S"], i["pk"]["S"]) for i in found] == expected, (step, g)
                forward, backward = _pages(dynamodb, name, g, 3, True), _pages(dynamodb, name, g, 3, False)
                assert [row for page in forward for row in page] == expected, (step, g)
                assert [row for page in backward for row in page] == expected[::-1], (step, g)
                assert all(len(page) == 3 for page in forward[:-1]), (step, g)
            for n in range(0, 40, 3):  # the table's own key, answered from the items under it
                held = [i for i in items if i["pk"]["S"] == f"item{n}"]
                found = dynamodb.query(TableName=name, KeyConditionExpression="pk = :p",
                                       ExpressionAttributeValues={":p": {"S": f"item{n}"}})["Items"]
                assert found == held, (step, n)
