"""The local emulator keeps DynamoDB's guarantees that Obelisk relies on: a failed transaction
changes nothing, and of concurrent conditional puts of the same item exactly one succeeds."""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.exceptions import ClientError


@pytest.fixture(scope="module")
def table(stack):
    dynamodb = boto3.client("dynamodb", endpoint_url=stack.emulator_url, region_name="us-east-1",
                            aws_access_key_id="local", aws_secret_access_key="local")
    name = f"scratch-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                {"AttributeName": "sk", "AttributeType": "S"}])
    yield dynamodb, name
    dynamodb.delete_table(TableName=name)


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
