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
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.exceptions import ClientError, WaiterError

from devstack import gateway_limits
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
THROTTLING = [
    {"ResourcePath": "/*", "HttpMethod": "*", "ThrottlingRateLimit": 200, "ThrottlingBurstLimit": 400,
     "MetricsEnabled": True},
    {"ResourcePath": "/~1token", "HttpMethod": "POST", "ThrottlingRateLimit": 20, "ThrottlingBurstLimit": 40,
     "MetricsEnabled": True},
]


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
    try:
        cloudformation.describe_stacks(StackName=name)
        exists = True
    except ClientError:
        exists = False
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


def stack_outputs(name: str) -> dict[str, str]:
    stack = boto3.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def deploy_stacks(stage: str, oidc_issuer: str = "", viewer_origin: str = "",
                  callback_url: str = "", sites: bool = True, oidc_client_ids: str = "") -> dict[str, str]:
    """The site stack, then the data plane (its CORS and sign-in callback point at the sites).
    Returns every output of both."""
    names = stack_names(stage)
    site = deploy_template(names["site"], SITE, {"Stage": stage}) if sites else {}
    parameters = {
        "Stage": stage,
        "OidcIssuer": oidc_issuer,
        "OidcClientIds": oidc_client_ids,
        "ViewerOrigin": viewer_origin or site.get("OhifUrl", "*"),
        "WebOrigin": site.get("WebUrl", "*"),
        "CallbackUrl": callback_url or site.get("WebUrl", "http://127.0.0.1:3000") + "/callback",
    }
    resources = deploy_template(names["resources"], RESOURCES, parameters)
    return {**site, **resources}


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


def web_config(outputs: dict[str, str], api_url: str) -> dict[str, Any]:
    """The web app's `/config.json` in the shape it reads (web/build.py, web/src/js/config.js):
    the API, the viewer, and sign-in at the stack's Cognito hosted UI (code + PKCE)."""
    from web.build import oidc_auth

    hosted = outputs.get("HostedSignInUrl", "").rstrip("/")
    auth = oidc_auth(hosted + "/oauth2/authorize", hosted + "/oauth2/token", outputs.get("UserPoolClientId", ""),
                     hosted + "/logout") if hosted else None
    return {"api_url": api_url.rstrip("/"), "auth": auth or {"mode": "none"},
            "ohif_url": outputs.get("OhifUrl", "").rstrip("/")}


def upload_sites(outputs: dict[str, str], api_url: str) -> None:
    from devstack import ohif
    from web.build import build_site

    bucket = outputs["SiteBucket"]
    config = web_config(outputs, api_url)
    web = build_site(ROOT / "build" / "web", config["api_url"], config["auth"], config["ohif_url"])
    print(f"web: {upload_tree(bucket, 'web', web)} files")
    print(f"ohif: {upload_tree(bucket, 'ohif', ohif.build(api_url))} files")
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
    try:
        cloudformation.describe_stacks(StackName=name)
        cloudformation.update_stack(**arguments)
        waiter = "stack_update_complete"
    except ClientError as error:
        if "No updates are to be performed" in str(error):
            return stack_outputs(name)
        if "does not exist" not in str(error):
            raise
        cloudformation.create_stack(**arguments, EnableTerminationProtection=True)
        waiter = "stack_create_complete"
    try:
        cloudformation.get_waiter(waiter).wait(StackName=name, WaiterConfig={"Delay": 15, "MaxAttempts": 240})
    except WaiterError as error:
        raise SystemExit(f"stack {name} failed: {error}") from error
    return stack_outputs(name)


def deploy(stage: str, oidc_issuer: str = "", alarm_email: str = "", oidc_client_ids: str = "") -> None:
    """What `make deploy` runs: the package `make package` builds, in S3, as one stack; then the
    API's own URL into its environment, then the sites with their config."""
    built = package(stage, ROOT / "build" / "package")
    bucket = artifacts_bucket(stage)
    template_url = uploaded_template(built, bucket)
    try:  # an update keeps the URL the stack already knows (one update, no moment without it)
        known_url = stack_outputs(stack_names(stage)["resources"]).get("PublicUrl", "")
    except ClientError:
        known_url = ""
    parameters = {"Stage": stage, "OidcIssuer": oidc_issuer, "OidcClientIds": oidc_client_ids,
                  "AlarmEmail": alarm_email, "PublicUrl": known_url}
    outputs = deploy_package(stage, template_url, parameters)
    public_url = outputs["EndpointURL"].rstrip("/").removesuffix("/api")
    if outputs.get("PublicUrl") != public_url:
        outputs = deploy_package(stage, template_url, {**parameters, "PublicUrl": public_url})
    upload_sites(outputs, public_url + "/api")
    print(json.dumps({"api": public_url + "/api", "web": outputs.get("WebUrl"), "ohif": outputs.get("OhifUrl")},
                     indent=2))


def add_user(stage: str, email: str, name: str) -> None:
    """Sign-up is admin-only: an administrator adds each user; Cognito emails a temporary password."""
    outputs = stack_outputs(stack_names(stage)["resources"])
    boto3.client("cognito-idp").admin_create_user(
        UserPoolId=outputs["UserPoolId"], Username=email, DesiredDeliveryMediums=["EMAIL"],
        UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"},
                        {"Name": "name", "Value": name or email}])
    print(f"{email} added; Cognito sent a temporary password to that address")


def _function_settings(stage: str) -> dict[str, Any]:
    """What every Chalice function gets on top of Chalice's resource: the runtime, JSON logs (with
    the request id, from the runtime) to a log group with retention, active tracing, and the URLs
    of the API and the sites (redirect URIs, viewer launches, report return links)."""
    return {
        "Runtime": package_build.RUNTIME,
        "Tracing": "Active",
        "Environment": {"Variables": {
            "OBELISK_PUBLIC_URL": {"Ref": "PublicUrl"},
            "OBELISK_WEB_URL": {"Fn::Sub": "https://${WebDistribution.DomainName}"},
            "OBELISK_OHIF_URL": {"Fn::Sub": "https://${OhifDistribution.DomainName}"},
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
    merged["Parameters"]["PublicUrl"] = {
        "Type": "String", "Default": "",
        "Description": "The API's root URL (the API is {PublicUrl}/api); infra/deploy.py sets it after the first deploy"}
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
        "GatewayResponses": gateway_responses.sam_gateway_responses()}}
    resources["RequestTooLargeResponse"] = {
        "Type": "AWS::ApiGateway::GatewayResponse",
        "Properties": {"RestApiId": {"Ref": "RestAPI"}, "ResponseType": "REQUEST_TOO_LARGE", "StatusCode": "413",
                       "ResponseTemplates": {"application/json": json.dumps(
                           {"message": "Request Too Long", "detail": gateway_limits.LARGE_UPLOAD_DETAIL})}}}
    # Sign-in returns to, and signs out to, the web app's CloudFront URL; OHIF reads DICOM cross-origin.
    client = resources["UserPoolClient"]["Properties"]
    client["CallbackURLs"] = [{"Fn::Sub": "https://${WebDistribution.DomainName}/callback"}]
    client["LogoutURLs"] = [{"Fn::Sub": "https://${WebDistribution.DomainName}/"}]
    cors = resources["DicomBucket"]["Properties"]["CorsConfiguration"]["CorsRules"][0]
    cors["AllowedOrigins"] = [{"Fn::Sub": "https://${OhifDistribution.DomainName}"},
                              {"Fn::Sub": "https://${WebDistribution.DomainName}"}]
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
    parser.add_argument("--oidc-issuer", default=os.environ.get("OIDC_ISSUER", ""),
                        help="bring your own OIDC issuer instead of the stack's Cognito user pool")
    parser.add_argument("--oidc-client-ids", default=os.environ.get("OIDC_CLIENT_IDS", ""),
                        help="with --oidc-issuer: the app clients whose access tokens the API accepts")
    parser.add_argument("--alarm-email", default=os.environ.get("OBELISK_ALARM_EMAIL", ""),
                        help="deploy: who receives the alarms")
    parser.add_argument("--out", default="build/package", help="package: output folder")
    parser.add_argument("--email", help="add-user: the new user's email (their user name)")
    parser.add_argument("--name", default="", help="add-user: the new user's display name")
    args = parser.parse_args(argv)
    if args.command == "deploy":
        deploy(args.stage, args.oidc_issuer, args.alarm_email, args.oidc_client_ids)
    elif args.command == "package":
        print(package(args.stage, ROOT / args.out).template)
    elif args.command == "add-user":
        add_user(args.stage, args.email, args.name)
    elif args.command == "data-plane":  # resources.yaml alone (LocalStack Community: no Lambda, no CloudFront)
        print(json.dumps(deploy_stacks(args.stage, args.oidc_issuer, sites=False), indent=2))
    else:
        teardown(args.stage)
    return 0


if __name__ == "__main__":
    sys.exit(main())
