"""Deploys Obelisk to AWS (or any endpoint AWS_ENDPOINT_URL names): the CloudFormation stacks of
`infra/`, then the Chalice app with their names wired in, then the web app and OHIF sites.

    python -m infra.deploy deploy --stage dev     # what `make deploy STAGE=dev` runs
    python -m infra.deploy package --stage dev    # one template: chalice package --merge-template
    python -m infra.deploy teardown --stage dev
"""
from __future__ import annotations

import argparse
import json
import mimetypes
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.exceptions import ClientError, WaiterError

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"
RESOURCES = INFRA / "resources.yaml"
SITE = INFRA / "site.yaml"
CHALICE = [sys.executable, "-c", "from chalice.cli import main; main()"]
# The Chalice functions; the one-template path makes them wait for the queues they read.
FUNCTION_QUEUES = {"WebhookFanOut": "EventsQueue", "WebhookDelivery": "DeliveriesQueue",
                   "IngestUpload": "UploadsQueue", "SeriesRenditions": "RenditionsQueue"}
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
    "SigningKeyParameter": "OBELISK_SIGNING_KEY_PARAMETER",
    "OidcIssuer": "OIDC_ISSUER",
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
                  callback_url: str = "", sites: bool = True) -> dict[str, str]:
    """The site stack, then the data plane (its CORS and sign-in callback point at the sites).
    Returns every output of both."""
    names = stack_names(stage)
    site = deploy_template(names["site"], SITE, {"Stage": stage}) if sites else {}
    parameters = {
        "Stage": stage,
        "OidcIssuer": oidc_issuer,
        "ViewerOrigin": viewer_origin or site.get("OhifUrl", "*"),
        "WebOrigin": site.get("WebUrl", "*"),
        "CallbackUrl": callback_url or site.get("WebUrl", "http://127.0.0.1:3000") + "/callback",
    }
    resources = deploy_template(names["resources"], RESOURCES, parameters)
    return {**site, **resources}


def environment(outputs: dict[str, str]) -> dict[str, str]:
    """The API's environment variables from the stack outputs."""
    return {env: outputs[key] for key, env in OUTPUT_ENVIRONMENT.items() if outputs.get(key)}


def configure_chalice(stage: str, variables: dict[str, str]) -> None:
    """Writes the resolved names into the stage of `.chalice/config.json` (commit it)."""
    config = json.loads(CHALICE_CONFIG.read_text())
    stage_config = config["stages"].setdefault(stage, {})
    stage_config.setdefault("environment_variables", {}).update(variables)
    CHALICE_CONFIG.write_text(json.dumps(config, indent=2) + "\n")


def chalice_environment(stage: str) -> dict[str, str]:
    """`chalice package/deploy` import app.py, which reads the stage's settings."""
    region = boto3.session.Session().region_name or "us-east-1"
    return {**os.environ, "OBELISK_STAGE": stage, "AWS_DEFAULT_REGION": region}


def chalice_deploy(stage: str) -> str:
    """Deploys the functions; returns the public URL (the API is `{public}/api`)."""
    env = chalice_environment(stage)
    subprocess.run([*CHALICE, "deploy", "--stage", stage], cwd=ROOT, env=env, check=True)
    url = subprocess.run([*CHALICE, "url", "--stage", stage], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout.strip()
    return url.rstrip("/").removesuffix("/api")


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


def web_config(outputs: dict[str, str], api_url: str) -> dict[str, str]:
    """What the web app reads from `/config.json`: where the API, the viewer and sign-in are."""
    return {
        "apiUrl": api_url,
        "ohifUrl": outputs.get("OhifUrl", ""),
        "oidcIssuer": outputs.get("OidcIssuer", ""),
        "oidcClientId": outputs.get("UserPoolClientId", ""),
    }


def upload_sites(outputs: dict[str, str], api_url: str) -> None:
    from devstack import ohif

    bucket = outputs["SiteBucket"]
    web = ROOT / "web" / "dist"
    if web.is_dir():
        (web / "config.json").write_text(json.dumps(web_config(outputs, api_url), indent=2))
        print(f"web: {upload_tree(bucket, 'web', web)} files")
    else:
        print("web: web/dist not built (make web); skipped")
    print(f"ohif: {upload_tree(bucket, 'ohif', ohif.build(api_url))} files")
    cloudfront = boto3.client("cloudfront")
    for key in ("WebDistributionId", "OhifDistributionId"):
        cloudfront.create_invalidation(DistributionId=outputs[key], InvalidationBatch={
            "Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": f"obelisk-{time.time_ns()}"})


def deploy(stage: str, oidc_issuer: str = "", sites: bool = True, app: bool = True) -> None:
    outputs = deploy_stacks(stage, oidc_issuer=oidc_issuer, sites=sites)
    if not app:
        print(json.dumps(outputs, indent=2))
        return
    configure_chalice(stage, environment(outputs))
    public_url = chalice_deploy(stage)
    config = json.loads(CHALICE_CONFIG.read_text())["stages"][stage]["environment_variables"]
    if config.get("OBELISK_PUBLIC_URL") != public_url:
        configure_chalice(stage, {"OBELISK_PUBLIC_URL": public_url})
        chalice_deploy(stage)  # the API writes its own URL into responses
    if sites:
        upload_sites(outputs, public_url + "/api")
    print(json.dumps({"api": public_url + "/api", "web": outputs.get("WebUrl"), "ohif": outputs.get("OhifUrl")},
                     indent=2))


def merged_template(stage: str) -> dict[str, Any]:
    """resources.yaml and site.yaml as one template, plus what the Chalice functions need from it:
    the OIDC issuer of this stack and queues that exist before their event sources."""
    parts = [yaml.safe_load(path.read_text()) for path in (RESOURCES, SITE)]
    merged: dict[str, Any] = {"AWSTemplateFormatVersion": "2010-09-09"}
    for section in ("Parameters", "Conditions", "Mappings", "Resources", "Outputs"):
        merged[section] = {k: v for part in parts for k, v in part.get(section, {}).items()}
    merged["Parameters"]["Stage"] = {**merged["Parameters"]["Stage"], "Default": stage}
    issuer = {"OIDC_ISSUER": merged["Outputs"]["OidcIssuer"]["Value"]}
    for function in ("APIHandler", *FUNCTION_QUEUES):
        merged["Resources"][function] = {"Properties": {"Environment": {"Variables": issuer}}}
    for function, queue in FUNCTION_QUEUES.items():
        merged["Resources"][function]["DependsOn"] = [queue]
    return merged


def package(stage: str, out: Path) -> Path:
    """`chalice package --merge-template`: one SAM template with functions, API and resources."""
    out.mkdir(parents=True, exist_ok=True)
    merge = out.parent / f"{out.name}-merge.yaml"
    merge.write_text(yaml.safe_dump(merged_template(stage), sort_keys=False))
    subprocess.run([*CHALICE, "package", "--stage", stage, "--template-format", "yaml",
                    "--merge-template", str(merge), str(out)],
                   cwd=ROOT, env=chalice_environment(stage), check=True, stdout=subprocess.DEVNULL)
    return out / "sam.yaml"


def teardown(stage: str) -> None:
    """Deletes the Chalice app, then both stacks. The DICOM and site buckets must be emptied first
    (CloudFormation refuses to delete a bucket with objects; that is deliberate for DICOM data)."""
    subprocess.run([*CHALICE, "delete", "--stage", stage], cwd=ROOT, env=chalice_environment(stage), check=False)
    cloudformation = boto3.client("cloudformation")
    for name in reversed(stack_names(stage).values()):
        cloudformation.delete_stack(StackName=name)
        cloudformation.get_waiter("stack_delete_complete").wait(StackName=name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["deploy", "package", "teardown"])
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--oidc-issuer", default=os.environ.get("OIDC_ISSUER", ""),
                        help="bring your own OIDC issuer instead of the stack's Cognito user pool")
    parser.add_argument("--out", default="build/package", help="package: output folder")
    parser.add_argument("--skip-sites", action="store_true", help="deploy: no CloudFront sites (LocalStack Community)")
    parser.add_argument("--skip-app", action="store_true", help="deploy: the data-plane stack only, no chalice deploy")
    args = parser.parse_args(argv)
    if args.command == "deploy":
        deploy(args.stage, args.oidc_issuer, sites=not args.skip_sites, app=not args.skip_app)
    elif args.command == "package":
        print(package(args.stage, ROOT / args.out))
    else:
        teardown(args.stage)
    return 0


if __name__ == "__main__":
    sys.exit(main())
