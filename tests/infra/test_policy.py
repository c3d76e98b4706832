"""The Chalice functions' IAM policies (`.chalice/policy-{stage}.json`) are least privilege: no
wildcard action, no `"Resource": "*"`, data-plane access only to the stage's own resources,
yet every resource of `infra/resources.yaml` the app touches is reachable."""
from __future__ import annotations

import json
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from devstack import bootstrap

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("dev", "prod")
DATA_PLANE = ("dynamodb:", "s3:", "sqs:", "ssm:", "cognito-idp:")
ACCOUNT = "arn:aws:{service}:eu-west-1:123456789012"


def policy(stage: str) -> dict:
    return json.loads((ROOT / ".chalice" / f"policy-{stage}.json").read_text())


def listed(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def allows(document: dict, action: str, resource: str) -> bool:
    """IAM's matching for Allow statements with Action/Resource lists (what these files use)."""
    return any(
        statement["Effect"] == "Allow"
        and any(fnmatchcase(action, a) for a in listed(statement["Action"]))
        and any(fnmatchcase(resource, r) for r in listed(statement["Resource"]))
        for statement in document["Statement"]
    )


@pytest.mark.parametrize("stage", STAGES)
def test_no_wildcard_action_and_no_unscoped_resource(stage):
    for statement in policy(stage)["Statement"]:
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement and "NotResource" not in statement
        actions, resources = listed(statement["Action"]), listed(statement["Resource"])
        assert not [a for a in actions if "*" in a], statement
        assert "*" not in resources, statement
        if any(a.startswith(DATA_PLANE) for a in actions if not a.startswith("cognito-idp:")):
            assert all(f"obelisk-{stage}-" in r or f"/obelisk/{stage}/" in r for r in resources), statement


@pytest.mark.parametrize("stage", STAGES)
def test_the_app_can_use_every_resource_of_its_stage(stage):
    document = policy(stage)
    resources = bootstrap.load_template()["Resources"]
    parameters = bootstrap.template_parameters(stage)
    for resource in resources.values():
        props = bootstrap.resolve(resource.get("Properties", {}), parameters)
        if resource["Type"] == "AWS::DynamoDB::Table":
            table = f"{ACCOUNT.format(service='dynamodb')}:table/{props['TableName']}"
            for action in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "BatchGetItem",
                           "ConditionCheckItem", "DescribeTable"):
                assert allows(document, f"dynamodb:{action}", table), (action, table)
            for index in props.get("GlobalSecondaryIndexes", []):
                assert allows(document, "dynamodb:Query", f"{table}/index/{index['IndexName']}")
        elif resource["Type"] == "AWS::S3::Bucket":
            bucket = f"arn:aws:s3:::{props['BucketName']}"
            for action in ("GetObject", "PutObject", "DeleteObject"):
                assert allows(document, f"s3:{action}", f"{bucket}/studies/1.2.3/object")
            assert allows(document, "s3:ListBucket", bucket)  # HeadBucket (readiness check)
    queues = ("events", "deliveries", "deliveries-dlq", "uploads")
    for queue in queues:
        arn = f"{ACCOUNT.format(service='sqs')}:obelisk-{stage}-{queue}"
        for action in ("SendMessage", "ReceiveMessage", "DeleteMessage", "GetQueueUrl", "GetQueueAttributes"):
            assert allows(document, f"sqs:{action}", arn), (action, arn)
    parameter = f"{ACCOUNT.format(service='ssm')}:parameter/obelisk/{stage}/signing-keys"
    assert allows(document, "ssm:GetParameter", parameter)
    assert allows(document, "ssm:PutParameter", parameter)  # the app creates it at first use


@pytest.mark.parametrize("stage", STAGES)
def test_nothing_beyond_the_stage_and_the_request_paths(stage):
    document = policy(stage)
    other = "prod" if stage == "dev" else "dev"
    table = f"{ACCOUNT.format(service='dynamodb')}:table/obelisk-{stage}-albums"
    assert not allows(document, "dynamodb:Scan", table)  # no Scan on request paths
    assert not allows(document, "dynamodb:DeleteTable", table)
    assert not allows(document, "dynamodb:GetItem", f"{ACCOUNT.format(service='dynamodb')}:table/obelisk-{other}-albums")
    assert not allows(document, "s3:GetObject", f"arn:aws:s3:::obelisk-{other}-dicom/studies/x")
    assert not allows(document, "s3:DeleteBucket", f"arn:aws:s3:::obelisk-{stage}-dicom")
    assert not allows(document, "sqs:SendMessage", f"{ACCOUNT.format(service='sqs')}:obelisk-{other}-events")
    assert not allows(document, "sqs:DeleteQueue", f"{ACCOUNT.format(service='sqs')}:obelisk-{stage}-events")
    assert not allows(document, "ssm:GetParameter", f"{ACCOUNT.format(service='ssm')}:parameter/obelisk/{other}/signing-keys")


def test_stage_policies_differ_only_by_stage():
    assert json.dumps(policy("dev")).replace("dev", "STAGE") == json.dumps(policy("prod")).replace("prod", "STAGE")
