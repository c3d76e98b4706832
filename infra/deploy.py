"""Deploys Obelisk to AWS: one CloudFormation stack holding the Chalice functions and API (built by
infra/package.py for the runtime chosen there, uploaded to S3) and every resource of infra/
(data plane, sites, operations), then the web app and OHIF sites with their config.

    python -m infra.deploy deploy --stage dev      # what `make deploy STAGE=dev` runs
    python -m infra.deploy package --stage dev     # what `make package` runs (build/package/)
    python -m infra.deploy add-user --stage dev --email a@b.org --name "A B"   # sign-up is admin-only
    python -m infra.deploy teardown --stage dev    # the data is retained
    python -m infra.deploy data-plane --stage dev  # resources.yaml alone (LocalStack Community)
"""
from __future__ import annotations

import argparse
import hashlib
import json
import mimetypes
import os
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.exceptions import ClientError, WaiterError

from chalicelib.store import aws as store_aws
from devstack import gateway_limits, site_headers
from infra import gateway_responses
from infra import package as package_build

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"
RESOURCES = INFRA / "resources.yaml"
SITE = INFRA / "site.yaml"
OPERATIONS = INFRA / "operations.yaml"
# The Chalice functions; the one-template path makes them wait for the queues they read.
FUNCTION_QUEUES = {"WebhookFanOut": "EventsQueue", "WebhookDelivery": "DeliveriesQueue",
                   "IngestUpload": "UploadsQueue", "SeriesRenditions": "RenditionsQueue",
                   "ResearchCopies": "ResearchQueue"}
# Each function's log group (infra/operations.yaml) and IAM role (Chalice's).
FUNCTION_LOG_GROUPS = {"APIHandler": "ApiLogGroup", "WebhookFanOut": "WebhookFanOutLogGroup",
                       "WebhookDelivery": "WebhookDeliveryLogGroup", "IngestUpload": "IngestUploadLogGroup",
                       "SeriesRenditions": "SeriesRenditionsLogGroup", "ResearchCopies": "ResearchCopiesLogGroup"}
ROLES = {"APIHandler": "ApiHandlerRole", "WebhookFanOut": "WebhookFanOutRole", "WebhookDelivery": "WebhookDeliveryRole",
         "IngestUpload": "IngestUploadRole", "SeriesRenditions": "SeriesRenditionsRole",
         "ResearchCopies": "ResearchCopiesRole"}
# API Gateway throttling: per stage, and tighter for the token endpoint (the WAF's rate-based
# rules in operations.yaml limit each IP address besides).
# Detailed (per method) metrics stay off: each route's metrics would be billed; the stage's own
# (Count, 4XX, 5XX, Latency) are free and are what the alarms read.
THROTTLING = [
    {"ResourcePath": "/*", "HttpMethod": "*", "ThrottlingRateLimit": 200, "ThrottlingBurstLimit": 400,
     "MetricsEnabled": False},
    {"ResourcePath": "/~1token", "HttpMethod": "POST", "ThrottlingRateLimit": 20, "ThrottlingBurstLimit": 40,
     "MetricsEnabled": False},
]

# API Gateway's access log line (JSON): the request id is the one the function logs (`requestId`).
# The route template (`resourcePath`), never `$context.path`: a capability URL's path is its secret.
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId", "extendedRequestId": "$context.extendedRequestId",
    "requestTime": "$context.requestTimeEpoch", "ip": "$context.identity.sourceIp",
    "method": "$context.httpMethod", "resourcePath": "$context.resourcePath",
    "status": "$context.status", "responseLength": "$context.responseLength",
    "latencyMs": "$context.responseLatency", "integrationLatencyMs": "$context.integrationLatency",
    "integrationStatus": "$context.integration.status", "errorType": "$context.error.responseType",
    "userAgent": "$context.identity.userAgent", "wafStatus": "$context.waf.status",
}


def queues_of(function: str) -> list[str]:
    return [FUNCTION_QUEUES[function]] if function in FUNCTION_QUEUES else []


# Stack output -> the API's environment variable (chalicelib/config.py).
OUTPUT_ENVIRONMENT = {
    "UsersTable": "OBELISK_USERS_TABLE",
    "AlbumsTable": "OBELISK_ALBUMS_TABLE",
    "SharesTable": "OBELISK_SHARES_TABLE",
    "TokensTable": "OBELISK_TOKENS_TABLE",
    "DicomTable": "OBELISK_DICOM_TABLE",
    "ReportsTable": "OBELISK_REPORTS_TABLE",
    "DicomBucket": "OBELISK_DICOM_BUCKET",
    "EventsQueue": "OBELISK_EVENTS_QUEUE",
    "DeliveriesQueue": "OBELISK_DELIVERIES_QUEUE",
    "DeliveriesDeadLetterQueue": "OBELISK_DELIVERIES_DLQ",
    "UploadsQueue": "OBELISK_UPLOADS_QUEUE",
    "RenditionsQueue": "OBELISK_RENDITIONS_QUEUE",
    "ResearchQueue": "OBELISK_RESEARCH_QUEUE",
    "SigningKeyParameter": "OBELISK_SIGNING_KEY_PARAMETER",
    "OidcIssuer": "OIDC_ISSUER",
    "OidcClientIds": "OIDC_CLIENT_IDS",
}
NO_CACHE = {"index.html", "app-config.js", "config.json"}
# What `deploy` sets from what the stack built (the merge declares them): the URLs the functions
# put in redirects and links, and the sites' Content-Security-Policies.
SITE_PARAMETERS = {
    "PublicUrl": {"Type": "String", "Default": "",
                  "Description": "The web app's URL; the API is {PublicUrl}/api (set by infra/deploy.py)"},
    "ViewerUrl": {"Type": "String", "Default": "", "Description": "OHIF's URL (set by infra/deploy.py)"},
    "OidcRequiredScope": {"Type": "String", "Default": "",
                          "Description": "The scope every access token must carry (OIDC_REQUIRED_SCOPE); "
                                         "empty: aws.cognito.signin.user.admin (Cognito)"},
}
# The operator's choices: given once (`deploy --web-domain ...`), kept by every later deploy that
# does not give them again (an empty value clears one). Option name -> stack parameter.
SITE_STACK_PARAMETERS = ["PublicUrl", "ViewerUrl", "CallbackUrl", "LogoutUrl", "WebContentSecurityPolicy",
                         "OhifContentSecurityPolicy"]
PERSISTED = {
    "oidc_issuer": "OidcIssuer", "oidc_client_ids": "OidcClientIds", "oidc_web_client_id": "OidcWebClientId",
    "oidc_required_scope": "OidcRequiredScope", "alarm_email": "AlarmEmail", "web_domain": "WebDomain",
    "ohif_domain": "OhifDomain", "certificate_arn": "CertificateArn", "mfa": "MfaConfiguration",
    "ses_identity_arn": "SesIdentityArn", "email_from": "EmailFrom",
    "manage_apigateway_account_role": "ManageApiGatewayAccountRole",
}


def stack_names(stage: str) -> dict[str, str]:
    return {"resources": f"obelisk-{stage}", "site": f"obelisk-{stage}-site"}


def deploy_template(name: str, template: Path, parameters: dict[str, str]) -> dict[str, str]:
    """Creates or updates one stack and waits for it; returns its outputs."""
    cloudformation = boto3.client("cloudformation")
    arguments = {
        "StackName": name,
        "TemplateBody": template.read_text(),
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        "Capabilities": ["CAPABILITY_IAM"],
    }
    remove_failed_creation(name)
    exists = stack_status(name) is not None
    try:
        if exists:
            cloudformation.update_stack(**arguments)
            cloudformation.get_waiter("stack_update_complete").wait(StackName=name)
        else:
            cloudformation.create_stack(**arguments)
            cloudformation.get_waiter("stack_create_complete").wait(StackName=name)
    except ClientError as error:
        if "No updates are to be performed" not in str(error):
            raise
    except WaiterError as error:
        raise SystemExit(f"stack {name} failed: {error}") from error
    return stack_outputs(name)


def stack_status(name: str) -> str | None:
    """The stack's status, None when there is none."""
    try:
        return boto3.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise


def remove_failed_creation(name: str) -> bool:
    """A first creation that failed leaves the stack in ROLLBACK_COMPLETE: empty (its data
    resources are RetainExceptOnCreate, so the rollback deleted them too) and impossible to
    update. Deletes it, so the deploy can simply be run again. True when it did."""
    if stack_status(name) != "ROLLBACK_COMPLETE":
        return False
    print(f"stack {name}: its first creation failed and rolled back; deleting the empty stack to create it again")
    cloudformation = boto3.client("cloudformation")
    cloudformation.update_termination_protection(StackName=name, EnableTerminationProtection=False)
    cloudformation.delete_stack(StackName=name)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=name)
    return True


def stack_outputs(name: str) -> dict[str, str]:
    stack = boto3.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def stack_parameters(name: str) -> dict[str, str]:
    """The parameters the stack was last deployed with ({} when there is no stack)."""
    if stack_status(name) is None:
        return {}
    stack = boto3.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}


def data_plane(stage: str, oidc_issuer: str = "") -> dict[str, str]:
    """resources.yaml alone (LocalStack Community: no Lambda, no CloudFront); returns its outputs."""
    return deploy_template(stack_names(stage)["resources"], RESOURCES, {"Stage": stage, "OidcIssuer": oidc_issuer})


def environment(outputs: dict[str, str]) -> dict[str, str]:
    """The API's environment variables from the stack outputs."""
    return {env: outputs[key] for key, env in OUTPUT_ENVIRONMENT.items() if outputs.get(key)}


def chalice_environment(stage: str) -> dict[str, str]:
    """`chalice package/deploy` import app.py, which reads the stage's settings."""
    region = boto3.session.Session().region_name or "us-east-1"
    return {**os.environ, "OBELISK_STAGE": stage, "AWS_DEFAULT_REGION": region}


def upload_tree(bucket: str, prefix: str, folder: Path) -> int:
    s3 = boto3.client("s3")
    count = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        key = f"{prefix}/{path.relative_to(folder).as_posix()}"
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        cache = "no-cache" if path.name in NO_CACHE else "public, max-age=86400"
        s3.upload_file(str(path), bucket, key, ExtraArgs={"ContentType": content_type, "CacheControl": cache})
        count += 1
    return count


def discover(issuer: str) -> dict[str, Any]:
    """The issuer's OpenID Connect discovery document."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 - the operator's issuer (https)
        return json.load(answer)


def web_config(outputs: dict[str, str], api_url: str,
               discovery: Callable[[str], dict[str, Any]] = discover) -> dict[str, Any]:
    """The web app's `/config.json` in the shape it reads (web/build.py, web/src/js/config.js):
    the API, the viewer, and sign-in (authorization code + PKCE) at the stack's Cognito hosted UI
    or, with your own issuer, at that issuer's endpoints with the web client (`WebClientId`)."""
    from web.build import oidc_auth

    hosted = outputs.get("HostedSignInUrl", "").rstrip("/")
    client_id = outputs.get("WebClientId") or outputs.get("UserPoolClientId", "")
    if hosted:
        auth = oidc_auth(hosted + "/oauth2/authorize", hosted + "/oauth2/token", client_id, hosted + "/logout")
    elif outputs.get("OidcIssuer") and client_id:
        provider = discovery(outputs["OidcIssuer"])
        scope = " ".join(dict.fromkeys(["openid", "email", "profile", *outputs.get("OidcRequiredScope", "").split()]))
        auth = oidc_auth(provider["authorization_endpoint"], provider["token_endpoint"], client_id,
                         provider.get("end_session_endpoint", ""), scope=scope)
    else:
        auth = None
    return {"api_url": api_url.rstrip("/"), "auth": auth or {"mode": "none"},
            "ohif_url": outputs.get("OhifUrl", "").rstrip("/")}


def storage_url(bucket: str, region: str) -> str:
    """The origin of the presigned URLs the API hands out for `bucket` (signed as
    chalicelib/store/aws.py signs them), for the sites' Content-Security-Policies."""
    s3 = boto3.session.Session(aws_access_key_id="-", aws_secret_access_key="-", region_name=region).client(
        "s3", config=store_aws.CLIENT_CONFIG, endpoint_url=None)
    return site_headers.origin(s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}))


def site_parameters(outputs: dict[str, str], region: str, ohif_index_html: str) -> dict[str, str]:
    """The stack parameters that follow from what the stack built: the public URLs and the sites'
    Content-Security-Policies, rendered by devstack/site_headers.py exactly as the local static
    servers render them. {} before the sites exist (a first creation)."""
    web_url, ohif_url = outputs.get("WebUrl", "").rstrip("/"), outputs.get("OhifUrl", "").rstrip("/")
    if not (web_url and ohif_url):
        return {}
    api_url = web_url + "/api"
    storage = storage_url(outputs["DicomBucket"], region)
    web = site_headers.web_app_headers(web_config(outputs, api_url), storage)
    ohif = site_headers.ohif_headers(api_url, ohif_index_html, storage)
    return {"PublicUrl": web_url, "ViewerUrl": ohif_url, "CallbackUrl": web_url + "/callback", "LogoutUrl": web_url + "/",
            "WebContentSecurityPolicy": web["Content-Security-Policy"],
            "OhifContentSecurityPolicy": ohif["Content-Security-Policy"]}


def upload_sites(outputs: dict[str, str], ohif_dist: Path) -> None:
    """The web app (its config.json from the outputs) and OHIF (built for the same API), then
    both distributions invalidated."""
    from web.build import build_site

    bucket = outputs["SiteBucket"]
    config = web_config(outputs, outputs["PublicUrl"] + "/api")
    web = build_site(ROOT / "build" / "web", config["api_url"], config["auth"], config["ohif_url"])
    print(f"web: {upload_tree(bucket, 'web', web)} files")
    print(f"ohif: {upload_tree(bucket, 'ohif', ohif_dist)} files")
    cloudfront = boto3.client("cloudfront")
    for key in ("WebDistributionId", "OhifDistributionId"):
        cloudfront.create_invalidation(DistributionId=outputs[key], InvalidationBatch={
            "Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": f"obelisk-{time.time_ns()}"})


def artifacts_bucket(stage: str) -> str:
    """The bucket the Lambda code, the layer and the template are uploaded to (created once)."""
    account = boto3.client("sts").get_caller_identity()["Account"]
    region = boto3.session.Session().region_name or "us-east-1"
    name = f"obelisk-{stage}-artifacts-{account}-{region}"
    s3 = boto3.client("s3")
    try:
        s3.head_bucket(Bucket=name)
    except ClientError:
        s3.create_bucket(Bucket=name, **({} if region == "us-east-1" else
                                        {"CreateBucketConfiguration": {"LocationConstraint": region}}))
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    return name


def uploaded_template(built: package_build.Package, bucket: str) -> str:
    """Uploads the code and the layer (keys by content hash) and the template that names them;
    returns the template's URL (the template is past CloudFormation's 51 KB inline limit)."""
    s3 = boto3.client("s3")
    keys = {}
    for archive in (built.function_zip, built.layer_zip):
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()[:32]
        keys[archive.name] = f"lambda/{digest}-{archive.name}"
        s3.upload_file(str(archive), bucket, keys[archive.name])
    text = built.template.read_text()
    for name, key in keys.items():
        text = text.replace(f"./{name}", f"s3://{bucket}/{key}")
    template_key = f"templates/{hashlib.sha256(text.encode()).hexdigest()[:32]}.yaml"
    s3.put_object(Bucket=bucket, Key=template_key, Body=text.encode())
    return f"https://{bucket}.s3.amazonaws.com/{template_key}"


def deploy_package(stage: str, template_url: str, parameters: dict[str, str]) -> dict[str, str]:
    """Creates or updates the one stack from the uploaded template; returns its outputs."""
    cloudformation = boto3.client("cloudformation")
    name = stack_names(stage)["resources"]
    arguments = {"StackName": name, "TemplateURL": template_url,
                 "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
                 "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]}
    if stack_status(name) is None:
        cloudformation.create_stack(**arguments, EnableTerminationProtection=True)
        waiter = "stack_create_complete"
    else:
        try:
            cloudformation.update_stack(**arguments)
        except ClientError as error:
            if "No updates are to be performed" in str(error):
                return stack_outputs(name)
            raise
        waiter = "stack_update_complete"
    try:
        cloudformation.get_waiter(waiter).wait(StackName=name, WaiterConfig={"Delay": 15, "MaxAttempts": 240})
    except WaiterError as error:
        hint = " (a failed first creation: run the deploy again)" if waiter == "stack_create_complete" else ""
        raise SystemExit(f"stack {name} failed{hint}: {error}") from error
    return stack_outputs(name)


def persisted_parameters(given: dict[str, str | None], previous: dict[str, str]) -> dict[str, str]:
    """The operator's parameters: each one given now, else the value the stack already has (a
    custom domain or an issuer is not lost by a `make deploy` that does not repeat it)."""
    out = {}
    for option, parameter in PERSISTED.items():
        value = given.get(option)
        if value is None:
            value = previous.get(parameter)
        if value is not None:
            out[parameter] = value
    return out


def deploy_warnings(parameters: dict[str, str]) -> list[str]:
    """What an operator must hear before the stack is deployed as asked."""
    if parameters.get("AlarmEmail"):
        return []
    return [f"WARNING: no alarm e-mail. The {parameters.get('Stage', '')} stack's alarms (dead letters, 5xx, "
            "throttles, WAF blocks) will publish to an SNS topic nobody is subscribed to: nobody will be told. "
            "Deploy with --alarm-email ops@example.org (make deploy DEPLOY_ARGS=\"--alarm-email ...\"), "
            "or subscribe to the topic in the AlarmTopic output yourself."]


def deploy(stage: str, given: dict[str, str | None]) -> None:
    """What `make deploy` runs: the package `make package` builds, in S3, as one stack, with the
    operator's parameters (`given`, else those already deployed); then the sites' URLs and
    headers, which exist only once the distributions do (a first creation updates once more);
    then the sites with their config."""
    from devstack import ohif

    built = package(stage, ROOT / "build" / "package")
    template_url = uploaded_template(built, artifacts_bucket(stage))
    name = stack_names(stage)["resources"]
    remove_failed_creation(name)
    previous = stack_parameters(name)
    parameters = {"Stage": stage, **persisted_parameters(given, previous)}
    for warning in deploy_warnings(parameters):
        print(f"\n{'!' * 78}\n{warning}\n{'!' * 78}\n", file=sys.stderr)
    region = boto3.session.Session().region_name or "us-east-1"
    scope = {"OidcRequiredScope": parameters.get("OidcRequiredScope", "")}  # what the web app asks for
    outputs = {**stack_outputs(name), **scope} if previous else {}
    index_html = (ohif.build("https://obelisk.invalid/api", ROOT / "build" / "ohif") / "index.html").read_text()
    sites = {k: previous[k] for k in SITE_STACK_PARAMETERS if k in previous}
    for _ in range(2):
        sites = site_parameters(outputs, region, index_html) or sites
        outputs = {**deploy_package(stage, template_url, {**parameters, **sites}), **scope}
        if site_parameters(outputs, region, index_html) == sites:
            break
    ohif_dist = ohif.build(outputs["PublicUrl"] + "/api", ROOT / "build" / "ohif")
    upload_sites(outputs, ohif_dist)
    print(json.dumps({"api": outputs["PublicUrl"] + "/api", "web": outputs.get("WebUrl"),
                      "ohif": outputs.get("OhifUrl")}, indent=2))


def add_user(stage: str, email: str, name: str) -> None:
    """Sign-up is admin-only: an administrator adds each user; Cognito emails a temporary password."""
    name = stack_names(stage)["resources"]
    outputs = stack_outputs(name)
    if "UserPoolId" not in outputs:
        issuer = stack_parameters(name).get("OidcIssuer") or "your own OIDC issuer"
        raise SystemExit(f"stack {name} has no Cognito user pool: it trusts {issuer} (--oidc-issuer). "
                         "Add users there; each gets an Obelisk account at their first sign-in (with a verified e-mail).")
    boto3.client("cognito-idp").admin_create_user(
        UserPoolId=outputs["UserPoolId"], Username=email, DesiredDeliveryMediums=["EMAIL"],
        UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"},
                        {"Name": "name", "Value": name or email}])
    print(f"{email} added; Cognito sent a temporary password to that address")


def _function_settings(stage: str) -> dict[str, Any]:
    """What every Chalice function gets on top of Chalice's resource: the runtime, JSON logs (with
    the request id, from the runtime) to a log group with retention, active tracing, and the URLs
    of the API and the sites (redirect URIs, viewer launches, report return links). The URLs are
    parameters set by `deploy` (a function cannot name the distribution that routes to its API:
    each would wait for the other)."""
    return {
        "Runtime": package_build.RUNTIME,
        "Tracing": "Active",
        "Environment": {"Variables": {
            # The API is served under the web app's origin (/api/*): one public URL for both.
            "OBELISK_PUBLIC_URL": {"Ref": "PublicUrl"},
            "OBELISK_WEB_URL": {"Ref": "PublicUrl"},
            "OBELISK_OHIF_URL": {"Ref": "ViewerUrl"},
            # The public origin forwards the bucket's reads to it at this endpoint, virtual-hosted
            # (infra/site.yaml, origin `dicom`): reads that came through it are redirected there.
            "OBELISK_PUBLIC_STORAGE_ENDPOINT": {"Fn::Sub": "https://s3.${AWS::Region}.${AWS::URLSuffix}"},
            "OIDC_REQUIRED_SCOPE": {"Ref": "OidcRequiredScope"},
        }},
    }


def merged_template(stage: str) -> dict[str, Any]:
    """resources.yaml, site.yaml and operations.yaml as one template, plus what the Chalice
    functions need from it: the OIDC issuer of this stack, queues that exist before their event
    sources, the runtime, logs, tracing, site URLs; the API's throttling and its answer to a
    request too large for Lambda."""
    parts = [yaml.safe_load(path.read_text()) for path in (RESOURCES, SITE, OPERATIONS)]
    merged: dict[str, Any] = {"AWSTemplateFormatVersion": "2010-09-09"}
    for section in ("Parameters", "Conditions", "Mappings", "Resources", "Outputs"):
        merged[section] = {k: v for part in parts for k, v in part.get(section, {}).items()}
    merged["Parameters"]["Stage"] = {**merged["Parameters"]["Stage"], "Default": stage}
    merged["Parameters"].update(SITE_PARAMETERS)
    resources = merged["Resources"]
    issuer = merged["Outputs"]["OidcIssuer"]["Value"]
    client_ids = merged["Outputs"]["OidcClientIds"]["Value"]
    for function, log_group in FUNCTION_LOG_GROUPS.items():
        settings = _function_settings(stage)
        settings["Environment"]["Variables"]["OIDC_ISSUER"] = issuer
        settings["Environment"]["Variables"]["OIDC_CLIENT_IDS"] = client_ids
        settings["LoggingConfig"] = {"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "WARN",
                                     "LogGroup": {"Ref": log_group}}
        resources[function] = {"Properties": settings, "DependsOn": list(queues_of(function))}  # the log group: by Ref
        resources[ROLES[function]] = {"Properties": {"ManagedPolicyArns": [
            {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AWSXrayWriteOnlyAccess"}]}}
    # Reporting's SR and FHIR libraries: only the API function builds report outputs.
    resources["ReportingLayer"] = {
        "Type": "AWS::Serverless::LayerVersion",
        "Properties": {"LayerName": {"Fn::Sub": "obelisk-${Stage}-reporting"}, "ContentUri": "./reporting-layer.zip",
                       "CompatibleRuntimes": [package_build.RUNTIME], "RetentionPolicy": "Delete"}}
    resources["APIHandler"]["Properties"]["Layers"] = [{"Ref": "ReportingLayer"}]
    resources["RestAPI"] = {"Properties": {
        "Name": {"Fn::Sub": "obelisk-${Stage}"}, "TracingEnabled": True, "MethodSettings": THROTTLING,
        "GatewayResponses": gateway_responses.sam_gateway_responses(),
        "AccessLogSetting": {"DestinationArn": {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]},
                             "Format": json.dumps(ACCESS_LOG_FORMAT, separators=(",", ":"))}},
        "DependsOn": ["ApiGatewayAccountReady"]}  # the account's CloudWatch role first, if ours (operations.yaml)
    resources["RequestTooLargeResponse"] = {
        "Type": "AWS::ApiGateway::GatewayResponse",
        "Properties": {"RestApiId": {"Ref": "RestAPI"}, "ResponseType": "REQUEST_TOO_LARGE", "StatusCode": "413",
                       "ResponseTemplates": {"application/json": json.dumps(
                           {"message": "Request Too Long", "detail": gateway_limits.LARGE_UPLOAD_DETAIL})}}}
    # Sign-in returns to, and signs out to, the web app: CallbackUrl and LogoutUrl, set by `deploy`
    # (the client cannot name the distribution: it routes to the API, whose functions name the
    # client); Cognito takes http://localhost until then. Both sites read DICOM objects cross-origin.
    for name, path in (("CallbackUrl", "/callback"), ("LogoutUrl", "/")):
        merged["Parameters"][name] = {**merged["Parameters"][name], "Default": f"http://localhost{path}"}
    web_url, ohif_url = merged["Outputs"]["WebUrl"]["Value"], merged["Outputs"]["OhifUrl"]["Value"]
    cors = resources["DicomBucket"]["Properties"]["CorsConfiguration"]["CorsRules"]
    cors[0]["AllowedOrigins"] = [ohif_url, web_url]
    cors[1]["AllowedOrigins"] = [web_url]
    # The sites' headers, from the one home the local static servers use.
    for policy, site, csp in (("WebHeadersPolicy", "web", "WebContentSecurityPolicy"),
                              ("OhifHeadersPolicy", "ohif", "OhifContentSecurityPolicy")):
        resources[policy]["Properties"]["ResponseHeadersPolicyConfig"].update(
            site_headers.cloudfront_policy(site, {"Ref": csp}))
    merged["Outputs"]["PublicUrl"] = {"Value": {"Ref": "PublicUrl"}}
    return merged


def package(stage: str, out: Path) -> package_build.Package:
    """One SAM template with functions, API and resources, the function package and the reporting
    layer (infra/package.py: wheels for the runtime chosen there, hashes from the locks)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    merge = out.parent / f"{out.name}-merge.yaml"
    merge.write_text(yaml.safe_dump(merged_template(stage), sort_keys=False))
    return package_build.build(stage, out, merge, chalice_environment(stage))


def teardown(stage: str) -> None:
    """Deletes the stack (termination protection off first). The tables and the DICOM bucket are
    retained (DeletionPolicy: Retain): delete them by hand once backed up (docs/deploy.md)."""
    cloudformation = boto3.client("cloudformation")
    name = stack_names(stage)["resources"]
    cloudformation.update_termination_protection(StackName=name, EnableTerminationProtection=False)
    cloudformation.delete_stack(StackName=name)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["deploy", "package", "teardown", "add-user", "data-plane"])
    parser.add_argument("--stage", default="dev")
    # deploy: each option not given keeps the stack's current value (an empty value clears it)
    parser.add_argument("--oidc-issuer", default=os.environ.get("OIDC_ISSUER"),
                        help="bring your own OIDC issuer instead of the stack's Cognito user pool")
    parser.add_argument("--oidc-client-ids", default=os.environ.get("OIDC_CLIENT_IDS"),
                        help="with --oidc-issuer: the app clients whose access tokens the API accepts")
    parser.add_argument("--oidc-web-client-id", help="with --oidc-issuer: the web app's public client "
                                                     "(default: the first of --oidc-client-ids)")
    parser.add_argument("--oidc-required-scope", help="the scope every access token must carry "
                                                      "(default: aws.cognito.signin.user.admin, Cognito's)")
    parser.add_argument("--alarm-email", default=os.environ.get("OBELISK_ALARM_EMAIL"),
                        help="who receives the alarms")
    parser.add_argument("--web-domain", help="custom domain of the web app and the API (needs --certificate-arn)")
    parser.add_argument("--ohif-domain", help="custom domain of the OHIF viewer (needs --certificate-arn)")
    parser.add_argument("--certificate-arn", help="ACM certificate (us-east-1) covering the custom domains")
    parser.add_argument("--mfa", choices=["OFF", "OPTIONAL", "ON"], help="Cognito TOTP sign-in (default OPTIONAL)")
    parser.add_argument("--ses-identity-arn", help="verified SES identity Cognito sends e-mail from")
    parser.add_argument("--email-from", help='with --ses-identity-arn: the sender, "Name <address>"')
    parser.add_argument("--manage-apigateway-account-role", choices=["true", "false"],
                        help="set API Gateway's account-wide CloudWatch role (default true; false for every "
                             "stack after the first in an account and region)")
    parser.add_argument("--out", default="build/package", help="package: output folder")
    parser.add_argument("--email", help="add-user: the new user's email (their user name)")
    parser.add_argument("--name", default="", help="add-user: the new user's display name")
    args = parser.parse_args(argv)
    if args.command == "deploy":
        deploy(args.stage, {option: getattr(args, option) for option in PERSISTED})
    elif args.command == "package":
        print(package(args.stage, ROOT / args.out).template)
    elif args.command == "add-user":
        add_user(args.stage, args.email, args.name)
    elif args.command == "data-plane":  # resources.yaml alone (LocalStack Community: no Lambda, no CloudFront)
        print(json.dumps(data_plane(args.stage, args.oidc_issuer or ""), indent=2))
    else:
        teardown(args.stage)
    return 0


if __name__ == "__main__":
    sys.exit(main())
