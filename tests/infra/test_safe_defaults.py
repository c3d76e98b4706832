"""Safe defaults of the deployed stack, read from the package `make deploy` ships (built once per
session by conftest.py): the data survives a deletion and an overwrite, sign-up is admin-only and
email cannot be changed by the user, the API is throttled and rate-limited, the sites send a
Content-Security-Policy and refuse framing, buckets refuse plain HTTP, functions log JSON to log
groups with retention and are traced, and alarms watch dead letters, 5xx answers and throttles."""
from __future__ import annotations

import json

import pytest
import yaml

from infra import deploy


class _CfnLoader(yaml.SafeLoader):
    pass


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)

DATA = ["UsersTable", "AlbumsTable", "SharesTable", "TokensTable", "DicomTable", "ReportsTable", "DicomBucket"]
DEAD_LETTER_QUEUES = ["UploadsDeadLetterQueue", "EventsDeadLetterQueue", "DeliveriesDeadLetterQueue",
                      "RenditionsDeadLetterQueue", "ResearchDeadLetterQueue"]


@pytest.fixture(scope="module")
def resources(built_package) -> dict:
    return yaml.load(built_package.template.read_text(), Loader=_CfnLoader)["Resources"]


@pytest.fixture(scope="module")
def parameters(built_package) -> dict:
    return yaml.load(built_package.template.read_text(), Loader=_CfnLoader)["Parameters"]


def of_type(resources: dict, kind: str) -> dict:
    return {n: r for n, r in resources.items() if r["Type"] == kind}


def test_tables_and_dicom_bucket_are_retained_and_recoverable(resources):
    for name in DATA:
        # kept when the stack is deleted; only a failed first creation (empty) deletes them, so it can be retried
        assert resources[name]["DeletionPolicy"] == "RetainExceptOnCreate", name
        assert resources[name]["UpdateReplacePolicy"] == "Retain", name
    for name, table in of_type(resources, "AWS::DynamoDB::Table").items():
        assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, name
    bucket = resources["DicomBucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = {r["Id"]: r for r in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-old-versions"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == {"Ref": "NoncurrentVersionDays"}


def test_every_bucket_refuses_plain_http(resources):
    policies = {r["Properties"]["Bucket"]["Ref"]: r["Properties"]["PolicyDocument"]["Statement"]
                for r in of_type(resources, "AWS::S3::BucketPolicy").values()}
    for bucket in of_type(resources, "AWS::S3::Bucket"):
        assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                   for s in policies.get(bucket, [])), bucket


def test_sign_up_is_admin_only_and_email_is_not_user_writable(resources):
    pool = resources["UserPool"]["Properties"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["UserAttributeUpdateSettings"]["AttributesRequireVerificationBeforeUpdate"] == ["email"]
    client = resources["UserPoolClient"]["Properties"]
    assert "ALLOW_USER_PASSWORD_AUTH" not in client["ExplicitAuthFlows"]
    assert "email" not in client["WriteAttributes"]
    assert client["LogoutURLs"] and client["CallbackURLs"]


def test_api_is_throttled_per_stage_and_for_token_and_rate_limited_per_ip(resources):
    settings = {(s["ResourcePath"], s["HttpMethod"]): s for s in resources["RestAPI"]["Properties"]["MethodSettings"]}
    assert settings[("/*", "*")]["ThrottlingRateLimit"] > settings[("/~1token", "POST")]["ThrottlingRateLimit"] > 0
    acl = resources["ApiWebAcl"]["Properties"]
    limits = [r["Statement"]["RateBasedStatement"] for r in acl["Rules"] if "RateBasedStatement" in r["Statement"]]
    scoped = [r for r in limits if "ScopeDownStatement" in r]
    assert len(limits) == 2 and len(scoped) == 1
    assert "token|register" in scoped[0]["ScopeDownStatement"]["RegexMatchStatement"]["RegexString"]
    association = resources["ApiWebAclAssociation"]["Properties"]
    assert "${RestAPI}/stages/api" in association["ResourceArn"]["Fn::Sub"]


def test_a_body_too_large_for_lambda_is_answered_with_the_large_upload_path(resources):
    response = resources["RequestTooLargeResponse"]["Properties"]
    body = json.loads(response["ResponseTemplates"]["application/json"])
    assert response["StatusCode"] == "413" and "/api/uploads" in body["detail"]


def test_sites_send_a_csp_and_refuse_framing(resources, parameters):
    for name in ("WebHeadersPolicy", "OhifHeadersPolicy"):
        security = resources[name]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
        # rendered by `make deploy` (test_site_headers.py); until then the parameter's strict default
        csp = parameters[security["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Ref"]]["Default"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, name
        assert security["FrameOptions"]["FrameOption"] == "DENY", name


def test_functions_log_json_with_retention_and_are_traced(resources):
    functions = of_type(resources, "AWS::Serverless::Function")
    groups = of_type(resources, "AWS::Logs::LogGroup")
    assert all(g["Properties"]["RetentionInDays"] for g in groups.values())
    for name, function in functions.items():
        logging = function["Properties"]["LoggingConfig"]
        assert logging["LogFormat"] == "JSON" and logging["LogGroup"]["Ref"] in groups, name
        assert function["Properties"]["Tracing"] == "Active", name
        assert "OBELISK_WEB_URL" in function["Properties"]["Environment"]["Variables"], name
        assert "OBELISK_OHIF_URL" in function["Properties"]["Environment"]["Variables"], name
    assert resources["RestAPI"]["Properties"]["TracingEnabled"] is True


def test_alarms_watch_every_dead_letter_queue_5xx_and_throttles(resources):
    alarms = of_type(resources, "AWS::CloudWatch::Alarm").values()
    watched_queues = {a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0] for a in alarms
                      if a["Properties"]["Namespace"] == "AWS/SQS"}
    assert watched_queues == set(DEAD_LETTER_QUEUES) == {n for n in of_type(resources, "AWS::SQS::Queue") if "DeadLetter" in n}
    metrics = {(a["Properties"]["Namespace"], a["Properties"]["MetricName"]) for a in alarms}
    assert {("AWS/ApiGateway", "5XXError"), ("AWS/Lambda", "Throttles"), ("AWS/WAFV2", "BlockedRequests")} <= metrics
    assert all(a["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}] for a in alarms)


def test_the_merge_template_is_what_the_package_holds():
    """One source: deploy.merged_template feeds `chalice package`, so the checks above hold for it."""
    merged = deploy.merged_template("dev")
    assert {"ApiWebAcl", "RequestTooLargeResponse", "ReportingLayer"} <= set(merged["Resources"])
