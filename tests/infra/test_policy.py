"""The Chalice functions' IAM policies (`.chalice/policy-{stage}.json`) are least privilege: no
wildcard action, no `"Resource": "*"`, data-plane access only to the stage's own resources,
yet every resource of `infra/resources.yaml` the app touches is reachable."""
from __future__ import annotations

import ast
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


# The AWS calls the deployed code makes, read from its source: a boto3 client's call
# (`client("s3").list_parts(`, also through a name bound to `client(...)`, a paginator or a presigned
# URL of an operation) and PynamoDB's model calls, mapped to the IAM action AWS checks. Operator-run
# code (the migrations, run with the operator's credentials: docs/deploy.md, Upgrade) is left out,
# and with it `dynamodb:Scan`.
OPERATOR_ONLY_MODULES = {"chalicelib/store/migrations.py", "chalicelib/store/storage_migration.py"}
OPERATOR_ONLY_FUNCTIONS = {"purge_unheld"}
RENAMED = {  # operations whose IAM action has another name
    "s3": {"HeadObject": "GetObject", "HeadBucket": "ListBucket", "ListObjectsV2": "ListBucket",
           "ListObjects": "ListBucket", "CreateMultipartUpload": "PutObject", "UploadPart": "PutObject",
           "CompleteMultipartUpload": "PutObject", "UploadPartCopy": "PutObject", "CopyObject": "PutObject",
           "DeleteObjects": "DeleteObject", "ListParts": "ListMultipartUploadParts",
           "ListMultipartUploads": "ListBucketMultipartUploads"},
    "sqs": {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
            "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"},
}
S3_BUCKET_ACTIONS = {"ListBucket", "ListBucketMultipartUploads"}
PYNAMODB_ACTIONS = {"query": ["Query"], "scan": ["Scan"], "batch_get": ["BatchGetItem"],
                    "batch_write": ["BatchWriteItem"],
                    "TransactWrite": ["PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem"]}


def _iam_action(service: str, method: str) -> str:
    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model(service)
    operation = {xform_name(o): o for o in model.operation_names}[method]
    return f"{service}:{RENAMED.get(service, {}).get(operation, operation)}"


def _client_service(node, bound: dict[str, str]) -> str | None:
    """The service of `client("svc")`, or of a name bound to it in the module."""
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "client" and node.args \
            and isinstance(node.args[0], ast.Constant):
        return node.args[0].value
    return bound.get(node.id) if isinstance(node, ast.Name) else None


def _bound_clients(tree) -> dict[str, str]:
    bound = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            pairs = [(node.targets[0], node.value)]
            if isinstance(node.targets[0], ast.Tuple) and isinstance(node.value, ast.Tuple):
                pairs = list(zip(node.targets[0].elts, node.value.elts, strict=False))
            for target, value in pairs:
                if isinstance(target, ast.Name) and (service := _client_service(value, {})):
                    bound[target.id] = service
    return bound


def _actions_of(node: ast.Call, bound: dict[str, str]) -> list[str]:
    func = node.func
    method = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    service = _client_service(func.value, bound) if isinstance(func, ast.Attribute) else None
    if service:
        if method in ("get_paginator", "generate_presigned_url") and isinstance(node.args[0], ast.Constant):
            method = node.args[0].value
        if method in ("get_paginator", "generate_presigned_url") or method == "exceptions":
            return []
        return [_iam_action(service, method)]
    return [f"dynamodb:{a}" for a in PYNAMODB_ACTIONS.get(method, [])]


def code_actions() -> dict[str, set[str]]:
    """IAM action → where the deployed code calls it (file:line)."""
    called: dict[str, set[str]] = {}
    for path in [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]:
        name = path.relative_to(ROOT).as_posix()
        if name in OPERATOR_ONLY_MODULES:
            continue
        tree = ast.parse(path.read_text())
        skipped = {id(n) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) and f.name in OPERATOR_ONLY_FUNCTIONS
                   for n in ast.walk(f)}
        bound = _bound_clients(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and id(node) not in skipped:
                for action in _actions_of(node, bound):
                    called.setdefault(action, set()).add(f"{name}:{node.lineno}")
    return called


def _resource_of(action: str, stage: str) -> str:
    service, name = action.split(":")
    if service == "s3":
        bucket = f"arn:aws:s3:::obelisk-{stage}-dicom"
        return bucket if name in S3_BUCKET_ACTIONS else f"{bucket}/cache/wado/1.2.3/x"
    return {
        "dynamodb": f"{ACCOUNT.format(service='dynamodb')}:table/obelisk-{stage}-albums",
        "sqs": f"{ACCOUNT.format(service='sqs')}:obelisk-{stage}-uploads",
        "ssm": f"{ACCOUNT.format(service='ssm')}:parameter/obelisk/{stage}/signing-keys",
        "cognito-idp": f"{ACCOUNT.format(service='cognito-idp')}:userpool/eu-west-1_abc",
    }[service]


def test_the_scan_finds_the_multipart_calls():
    """The source scan below sees what it must (else it would pass on an empty set)."""
    found = code_actions()
    for action in ("s3:ListMultipartUploadParts", "s3:AbortMultipartUpload", "s3:PutObject", "s3:ListBucket",
                   "dynamodb:Query", "dynamodb:BatchGetItem", "sqs:SendMessage", "ssm:PutParameter",
                   "cognito-idp:GetUser"):
        assert action in found, action
    assert "dynamodb:Scan" not in found, found["dynamodb:Scan"]  # operator-only code is left out


@pytest.mark.parametrize("stage", STAGES)
def test_the_policy_grants_every_aws_call_the_code_makes(stage):
    """An upload's part list, abort and completion (and every other call the functions make) are
    allowed on the stage's resources: a missing action answers AccessDenied, a 500 on AWS only."""
    document = policy(stage)
    missing = {action: sorted(where)[:3] for action, where in code_actions().items()
               if not allows(document, action, _resource_of(action, stage))}
    assert not missing, missing
