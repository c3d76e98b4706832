"""Operations in the assembled template (infra.deploy.merged_template, what `chalice package`
merges): alarms can reach their topic, every function and the API log somewhere with retention,
and those logs outlive a teardown (but not a failed first creation, which must stay retryable)."""
from __future__ import annotations

import json

import pytest

from infra import deploy


@pytest.fixture(scope="module")
def template() -> dict:
    return deploy.merged_template("dev")


def test_alarm_topic_key_lets_cloudwatch_alarms_publish(template):
    """An alarm publishes to an encrypted topic only if CloudWatch may use the topic's key: a
    customer-managed key whose policy names cloudwatch.amazonaws.com (never alias/aws/sns)."""
    resources = template["Resources"]
    key_ref = resources["AlarmTopic"]["Properties"]["KmsMasterKeyId"]
    assert isinstance(key_ref, dict) and set(key_ref) == {"Ref"}, key_ref
    key = resources[key_ref["Ref"]]
    assert key["Type"] == "AWS::KMS::Key"
    grants = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
              if s["Effect"] == "Allow" and s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert grants and {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(grants[0]["Action"])
    assert "Condition" not in grants[0]  # CloudWatch's calls carry no context a condition could test


def test_every_function_and_the_api_log_to_a_retained_group_with_retention(template):
    resources = template["Resources"]
    groups = {n: r for n, r in resources.items() if r.get("Type") == "AWS::Logs::LogGroup"}
    for name, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
        assert group["DeletionPolicy"] == "RetainExceptOnCreate", name  # kept at teardown, not after a failed create
        assert group["UpdateReplacePolicy"] == "Retain", name
    for function, group in deploy.FUNCTION_LOG_GROUPS.items():
        assert resources[function]["Properties"]["LoggingConfig"]["LogGroup"] == {"Ref": group}
        assert group in groups
    assert set(deploy.FUNCTION_LOG_GROUPS) == set(deploy.ROLES)


def test_api_gateway_writes_a_json_access_log_with_the_request_id(template):
    resources = template["Resources"]
    api = resources["RestAPI"]
    setting = api["Properties"]["AccessLogSetting"]
    group = setting["DestinationArn"]["Fn::GetAtt"][0]
    assert resources[group]["Type"] == "AWS::Logs::LogGroup"
    line = json.loads(setting["Format"])
    assert line["requestId"] == "$context.requestId" and line["status"] == "$context.status"
    # API Gateway logs through the account's CloudWatch role: set before the stage is deployed
    # (when this stack manages it: through a handle that depends on it only then).
    handles = [resources[n] for n in api["DependsOn"] if n != "ApiGatewayAccount"]
    assert any(h.get("Metadata", {}).get("Account") == {"Fn::If": ["ManagesApiGatewayAccount", {"Ref": "ApiGatewayAccount"},
                                                                    {"Ref": "AWS::NoValue"}]} for h in handles)
    role = resources[resources["ApiGatewayAccount"]["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]]
    assert any("AmazonAPIGatewayPushToCloudWatchLogs" in arn["Fn::Sub"] for arn in role["Properties"]["ManagedPolicyArns"])


def test_waf_logs_leave_out_the_bearer_secrets(template):
    """The WAF logs every request's headers and URI: the user and capability tokens
    (`Authorization`, `X-Authorization-Source`) and the capability secret in `/api/link/{secret}/...`
    must be redacted, or whoever reads the logs holds working credentials."""
    logging = template["Resources"]["ApiWebAclLogging"]["Properties"]
    redacted = logging.get("RedactedFields", [])
    headers = {f["SingleHeader"]["Name"].lower() for f in redacted if "SingleHeader" in f}
    assert {"authorization", "x-authorization-source"} <= headers, redacted
    assert {"UriPath": {}} in redacted, redacted


def test_api_access_log_records_the_route_not_the_path(template):
    """`$context.path` is `/link/{secret}/...` for a capability URL: the access log records the
    route template (`$context.resourcePath`) instead, and no header or token."""
    line = json.loads(template["Resources"]["RestAPI"]["Properties"]["AccessLogSetting"]["Format"])
    values = set(line.values())
    assert "$context.resourcePath" in values
    assert not [v for v in values if v.startswith(("$context.path", "$input", "$context.authorizer"))], line


def _rate_rules(template) -> dict[str, dict]:
    rules = template["Resources"]["ApiWebAcl"]["Properties"]["Rules"]
    return {r["Name"]: r["Statement"]["RateBasedStatement"] for r in rules if "RateBasedStatement" in r["Statement"]}


def test_waf_rate_rules_count_each_client_behind_cloudfront(template):
    """Requests reach the API through CloudFront, so the WAF's source address is one of
    CloudFront's: the rate-based rules count the client address CloudFront forwards instead."""
    rules = _rate_rules(template)
    assert rules
    for name, rule in rules.items():
        assert rule["AggregateKeyType"] == "FORWARDED_IP", name
        assert rule["ForwardedIPConfig"]["HeaderName"] == "X-Forwarded-For", name


def test_capability_links_and_viewers_are_not_held_to_the_sign_in_limit(template):
    """The strict limit covers sign-in and client registration only: a capability link's viewer
    fetches one request per frame under `/api/link/...`. The general limit fits a hospital behind
    one NAT address (tens of users, OHIF's request per frame)."""
    import re

    parameters = template["Parameters"]
    rules = _rate_rules(template)
    scoped = [r for r in rules.values() if "ScopeDownStatement" in r]
    general = [r for r in rules.values() if "ScopeDownStatement" not in r]
    assert len(scoped) == 1 and len(general) == 1
    pattern = re.compile(scoped[0]["ScopeDownStatement"]["RegexMatchStatement"]["RegexString"])
    for path in ("/api/token", "/api/register"):
        assert pattern.search(path), path
    for path in ("/api/link/abcdefghijklmnopqrstuv/studies", "/api/link/x/wado", "/api/studies", "/api/tokens"):
        assert not pattern.search(path), path
    assert parameters[general[0]["Limit"]["Ref"]]["Default"] >= 50_000


def test_the_account_wide_api_gateway_role_is_optional(template):
    """`AWS::ApiGateway::Account` is one setting per account and region: a second stage in the same
    account must be able to leave it to the first (`ManageApiGatewayAccountRole=false`), and then
    nothing in the template may need those resources (no DependsOn, Ref or GetAtt outside an If)."""
    resources, parameters = template["Resources"], template["Parameters"]
    optional = {"ApiGatewayAccount", "ApiGatewayCloudWatchRole"}
    assert parameters["ManageApiGatewayAccountRole"]["Default"] == "true"
    assert set(parameters["ManageApiGatewayAccountRole"]["AllowedValues"]) == {"true", "false"}
    condition = template["Conditions"]["ManagesApiGatewayAccount"]
    assert condition == {"Fn::Equals": [{"Ref": "ManageApiGatewayAccountRole"}, "true"]}
    for name in optional:
        assert resources[name]["Condition"] == "ManagesApiGatewayAccount", name

    def unconditional_references(node) -> set[str]:
        if isinstance(node, list):
            return set().union(*map(unconditional_references, node)) if node else set()
        if not isinstance(node, dict):
            return set()
        if "Fn::If" in node:
            return set()
        found = {node["Ref"]} if isinstance(node.get("Ref"), str) else set()
        if "Fn::GetAtt" in node:
            found.add(node["Fn::GetAtt"][0])
        return found | unconditional_references(list(node.values()))

    for name, resource in resources.items():
        if resource.get("Condition") == "ManagesApiGatewayAccount":
            continue
        depends = resource.get("DependsOn", [])
        assert not optional & set([depends] if isinstance(depends, str) else depends), name
        assert not optional & unconditional_references({k: v for k, v in resource.items() if k != "DependsOn"}), name
    assert "manage_apigateway_account_role" in deploy.PERSISTED


def test_abandoned_multipart_uploads_are_aborted_wherever_the_code_starts_them(template):
    """Large uploads (`uploads/`) and cache builds (`cache/`) use S3 multipart uploads; an upload
    never completed keeps its parts billed until a lifecycle rule aborts it."""
    bucket = template["Resources"]["DicomBucket"]["Properties"]
    aborting = [r.get("Prefix", r.get("Filter", {}).get("Prefix", "")) for r in bucket["LifecycleConfiguration"]["Rules"]
                if r["Status"] == "Enabled" and "AbortIncompleteMultipartUpload" in r]
    for key in ("uploads/abc/body", "cache/wado/1.2/3.4/zip"):
        assert any(key.startswith(prefix) for prefix in aborting), (key, aborting)


def test_no_alarm_email_is_said_loudly():
    """Without an alarm e-mail the alarms publish to a topic nobody reads: `deploy` says so."""
    assert any("ALARM" in w.upper() and "--alarm-email" in w for w in deploy.deploy_warnings({"Stage": "prod"}))
    assert deploy.deploy_warnings({"Stage": "prod", "AlarmEmail": "ops@hospital.example"}) == []


def test_common_rule_set_is_deployed_without_blocking_dicom_bodies(template):
    """AWS's common rule group runs on the API (counting: its matches are visible in the WAF's
    metrics and logs), and its body-size rule (8 KB) never blocks a STOW, even if an operator
    switches the group to blocking."""
    rules = {r["Name"]: r for r in template["Resources"]["ApiWebAcl"]["Properties"]["Rules"]}
    managed = [r for r in rules.values() if "ManagedRuleGroupStatement" in r["Statement"]]
    assert len(managed) == 1
    group = managed[0]
    statement = group["Statement"]["ManagedRuleGroupStatement"]
    assert (statement["VendorName"], statement["Name"]) == ("AWS", "AWSManagedRulesCommonRuleSet")
    assert group["OverrideAction"] == {"Count": {}}
    overrides = {o["Name"]: o["ActionToUse"] for o in statement.get("RuleActionOverrides", [])}
    assert overrides.get("SizeRestrictions_BODY") == {"Count": {}}


def test_api_metrics_are_per_stage_not_per_method(template):
    """Detailed (per method) API metrics bill each route's metrics; the stage's own are free."""
    for setting in template["Resources"]["RestAPI"]["Properties"]["MethodSettings"]:
        assert setting.get("MetricsEnabled") is not True, setting
