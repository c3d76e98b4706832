"""Creates the local stack's AWS resources from `infra/resources.yaml` and the demo users.

Resources moto's CloudFormation does not implement (the Cognito user pool, TTL settings) are
created through the API from the same template's properties, so there is one definition."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infra" / "resources.yaml"
REGION = "us-east-1"
DEMO_USERS = {
    "alice": "Alice Martin",
    "bob": "Bob Keller",
    "carol": "Carol Nguyen",
}


# What the identity rules (docs/identity.md) need from the pool and its web client. The template
# (infra/resources.yaml) declares them for AWS; a template value wins, these fill what it lacks.
POOL_IDENTITY_RULES = {
    # a changed e-mail stays pending, the verified one in effect, until the code sent to it is entered
    "UserAttributeUpdateSettings": {"AttributesRequireVerificationBeforeUpdate": ["email"]},
}
CLIENT_IDENTITY_RULES = {
    # users may change their name and (verified as above) e-mail, never `email_verified`
    "ReadAttributes": ["email", "email_verified", "name"],
    "WriteAttributes": ["email", "name"],
}


def demo_password(user: str) -> str:
    return f"Obelisk-{user}-2026"


def demo_email(user: str) -> str:
    return f"{user}@example.org"


def aws_client(service: str, endpoint: str):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"mode": "standard", "max_attempts": 5}),
    )


def load_template() -> dict[str, Any]:
    return yaml.safe_load(TEMPLATE.read_text())


def template_parameters(stage: str) -> dict[str, str]:
    """The template's parameter defaults, with this stage."""
    defaults = {name: str(spec.get("Default", "")) for name, spec in load_template()["Parameters"].items()}
    return {**defaults, "Stage": stage}


def resolve(value: Any, parameters: dict[str, str]) -> Any:
    """Resolves the intrinsics the template uses for names (`Fn::Sub`, `Ref` to a parameter)."""
    if isinstance(value, dict) and list(value) == ["Fn::Sub"]:
        return re.sub(r"\$\{(\w+)\}", lambda m: parameters[m.group(1)], value["Fn::Sub"])
    if isinstance(value, dict) and list(value) == ["Ref"] and value["Ref"] in parameters:
        return parameters[value["Ref"]]
    if isinstance(value, dict):
        return {k: resolve(v, parameters) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, parameters) for v in value]
    return value


def deploy_stack(endpoint: str, stage: str) -> None:
    cloudformation = aws_client("cloudformation", endpoint)
    name = f"obelisk-{stage}"
    existing = {s["StackName"] for s in cloudformation.list_stacks()["StackSummaries"]
                if s["StackStatus"] != "DELETE_COMPLETE"}
    if name not in existing:
        cloudformation.create_stack(
            StackName=name,
            TemplateBody=TEMPLATE.read_text(),
            Parameters=[{"ParameterKey": "Stage", "ParameterValue": stage}],
        )
    template = load_template()
    parameters = template_parameters(stage)
    add_missing_queues(aws_client("sqs", endpoint), template, parameters)
    dynamodb = aws_client("dynamodb", endpoint)
    for resource in template["Resources"].values():
        props = resolve(resource.get("Properties", {}), parameters)
        if resource["Type"] == "AWS::DynamoDB::Table":
            add_missing_indexes(dynamodb, props)
        ttl = props.get("TimeToLiveSpecification")
        if resource["Type"] == "AWS::DynamoDB::Table" and ttl:
            current = dynamodb.describe_time_to_live(TableName=props["TableName"])
            if current["TimeToLiveDescription"].get("TimeToLiveStatus") != "ENABLED":
                dynamodb.update_time_to_live(
                    TableName=props["TableName"],
                    TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
                )


QUEUE_ATTRIBUTES = ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "SqsManagedSseEnabled")


def add_missing_queues(sqs, template: dict, parameters: dict[str, str]) -> list[str]:
    """The template's queues that an emulator state kept from an earlier run lacks (moto's
    CloudFormation does not update a stack): a queue added by a newer version (e.g. the research
    queue) would otherwise be missing and every request sending to it answer 500. Dead-letter
    queues first, so a redrive policy can name them. Returns the names created."""
    queues = {name: resolve(r.get("Properties", {}), parameters) for name, r in template["Resources"].items()
              if r["Type"] == "AWS::SQS::Queue"}
    existing = set(sqs.list_queues().get("QueueUrls", []))
    present = {url.rsplit("/", 1)[-1] for url in existing}
    created = []
    for props in sorted(queues.values(), key=lambda props: "RedrivePolicy" in props):
        if props["QueueName"] in present:
            continue
        attributes = {k: str(props[k]).lower() if isinstance(props[k], bool) else str(props[k])
                      for k in QUEUE_ATTRIBUTES if k in props}
        redrive = props.get("RedrivePolicy")
        if redrive:
            target = queues[redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]]["QueueName"]
            url = sqs.get_queue_url(QueueName=target)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": arn,
                                                      "maxReceiveCount": str(redrive["maxReceiveCount"])})
        sqs.create_queue(QueueName=props["QueueName"], Attributes=attributes)
        created.append(props["QueueName"])
    return created


def add_missing_indexes(dynamodb, table: dict) -> None:
    """The template's global secondary indexes that a table kept from an earlier run lacks (moto's
    CloudFormation does not update a stack); data of an earlier layout is then brought up to date
    by `chalicelib.store.migrations`."""
    present = {i["IndexName"] for i in dynamodb.describe_table(TableName=table["TableName"])["Table"]
               .get("GlobalSecondaryIndexes", [])}
    for index in table.get("GlobalSecondaryIndexes", []):
        if index["IndexName"] not in present:
            names = {k["AttributeName"] for k in index["KeySchema"]}
            dynamodb.update_table(
                TableName=table["TableName"],
                AttributeDefinitions=[a for a in table["AttributeDefinitions"] if a["AttributeName"] in names],
                GlobalSecondaryIndexUpdates=[{"Create": index}])


def ensure_buckets(endpoint: str, stage: str) -> None:
    """The template's buckets, created through the S3 API where missing, with their default
    encryption (what moto's CloudFormation applies): S3 has an emulator process of its own
    (`devstack/s3_sibling.py`), and CloudFormation, in the main one, creates them in a store no
    request reaches."""
    s3 = aws_client("s3", endpoint)
    present = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    for resource in load_template()["Resources"].values():
        if resource["Type"] != "AWS::S3::Bucket":
            continue
        props = resolve(resource.get("Properties", {}), template_parameters(stage))
        if props["BucketName"] in present:
            continue
        s3.create_bucket(Bucket=props["BucketName"])
        if "BucketEncryption" in props:  # CloudFormation's names -> the API's
            rules = [{"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                      **({"BucketKeyEnabled": rule["BucketKeyEnabled"]} if "BucketKeyEnabled" in rule else {})}
                     for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]]
            s3.put_bucket_encryption(Bucket=props["BucketName"], ServerSideEncryptionConfiguration={"Rules": rules})


def ensure_bucket_notifications(endpoint: str, stage: str) -> None:
    """Applies the buckets' `NotificationConfiguration` (S3 -> SQS) through the API: moto's
    CloudFormation does not. Queue ARNs are resolved from the queues the stack created."""
    template = load_template()["Resources"]
    s3, sqs = aws_client("s3", endpoint), aws_client("sqs", endpoint)
    for resource in template.values():
        notification = resource.get("Properties", {}).get("NotificationConfiguration")
        if resource["Type"] != "AWS::S3::Bucket" or not notification:
            continue
        bucket = resolve(resource["Properties"]["BucketName"], {"Stage": stage})
        queues = []
        for config in notification.get("QueueConfigurations", []):
            queue_name = resolve(template[config["Queue"]["Fn::GetAtt"][0]]["Properties"]["QueueName"], {"Stage": stage})
            url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            rules = [{"Name": r["Name"], "Value": r["Value"]} for r in config["Filter"]["S3Key"]["Rules"]]
            queues.append({"QueueArn": arn, "Events": [config["Event"]], "Filter": {"Key": {"FilterRules": rules}}})
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"QueueConfigurations": queues})


def ensure_bucket_lifecycles(endpoint: str, stage: str) -> None:
    """Applies the buckets' `LifecycleConfiguration` through the API, as the template declares it
    (moto's CloudFormation does not): the local bucket expires what AWS's would."""
    s3 = aws_client("s3", endpoint)
    for resource in load_template()["Resources"].values():
        lifecycle = resource.get("Properties", {}).get("LifecycleConfiguration")
        if resource["Type"] != "AWS::S3::Bucket" or not lifecycle:
            continue
        bucket = resolve(resource["Properties"]["BucketName"], {"Stage": stage})
        parameters = template_parameters(stage)
        rules = [lifecycle_rule(resolve(rule, parameters)) for rule in lifecycle["Rules"]]
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})


def ensure_bucket_versioning(endpoint: str, stage: str) -> None:
    """Turns on versioning where the template's buckets declare it (moto's CloudFormation does
    not): an object overwritten or deleted locally leaves a noncurrent version, as on AWS."""
    s3 = aws_client("s3", endpoint)
    for resource in load_template()["Resources"].values():
        versioning = resource.get("Properties", {}).get("VersioningConfiguration")
        if resource["Type"] == "AWS::S3::Bucket" and versioning:
            bucket = resolve(resource["Properties"]["BucketName"], {"Stage": stage})
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": versioning["Status"]})


def lifecycle_rule(rule: dict) -> dict:
    """A CloudFormation lifecycle rule as the S3 API spells it."""
    out: dict = {"ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "ExpirationInDays" in rule or "ExpiredObjectDeleteMarker" in rule:
        out["Expiration"] = ({"Days": int(rule["ExpirationInDays"])} if "ExpirationInDays" in rule
                             else {"ExpiredObjectDeleteMarker": bool(rule["ExpiredObjectDeleteMarker"])})
    if "NoncurrentVersionExpiration" in rule:
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])}
    if "AbortIncompleteMultipartUpload" in rule:
        out["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])}
    return out


def ensure_user_pool(endpoint: str, stage: str) -> dict[str, str]:
    """The Cognito user pool and web client of the template; returns their ids and OIDC URLs."""
    template = load_template()["Resources"]
    parameters = template_parameters(stage)
    pool_props = {**POOL_IDENTITY_RULES, **resolve(template["UserPool"]["Properties"], parameters)}
    client_props = {**CLIENT_IDENTITY_RULES, **resolve(template["UserPoolClient"]["Properties"], parameters)}
    idp = aws_client("cognito-idp", endpoint)
    pools = {p["Name"]: p["Id"] for p in idp.list_user_pools(MaxResults=60)["UserPools"]}
    pool_id = pools.get(pool_props["UserPoolName"])
    if not pool_id:
        pool_id = idp.create_user_pool(
            PoolName=pool_props["UserPoolName"],
            Policies=pool_props["Policies"],
            AutoVerifiedAttributes=pool_props["AutoVerifiedAttributes"],
            UserAttributeUpdateSettings=pool_props["UserAttributeUpdateSettings"],
        )["UserPool"]["Id"]
    clients = {
        c["ClientName"]: c["ClientId"]
        for c in idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    }
    client_id = clients.get(client_props["ClientName"])
    if not client_id:
        client_id = idp.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName=client_props["ClientName"],
            GenerateSecret=False,
            # The deployed client allows SRP only; the local one adds password sign-in for scripts and tests.
            ExplicitAuthFlows=[*client_props["ExplicitAuthFlows"], "ALLOW_USER_PASSWORD_AUTH"],
            AllowedOAuthFlows=client_props["AllowedOAuthFlows"],
            AllowedOAuthScopes=client_props["AllowedOAuthScopes"],
            CallbackURLs=client_props["CallbackURLs"],
            ReadAttributes=client_props["ReadAttributes"],
            WriteAttributes=client_props["WriteAttributes"],
        )["UserPoolClient"]["ClientId"]
    _apply_identity_rules(idp, pool_id, client_id, pool_props, client_props)
    return {
        "user_pool_id": pool_id,
        "client_id": client_id,
        "issuer": f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}",
        "discovery_url": f"{endpoint}/{pool_id}/.well-known/openid-configuration",
    }


def _apply_identity_rules(idp, pool_id: str, client_id: str, pool_props: dict, client_props: dict) -> None:
    """A pool and client persisted in `.obelisk/` before the identity rules get them (local only:
    moto's update calls keep what they are not given)."""
    pool = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    if "UserAttributeUpdateSettings" not in pool:
        idp.update_user_pool(UserPoolId=pool_id, Policies=pool_props["Policies"],
                             AutoVerifiedAttributes=pool_props["AutoVerifiedAttributes"],
                             UserAttributeUpdateSettings=pool_props["UserAttributeUpdateSettings"])
    client = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"]
    if "WriteAttributes" not in client:
        idp.update_user_pool_client(UserPoolId=pool_id, ClientId=client_id, ReadAttributes=client_props["ReadAttributes"],
                                    WriteAttributes=client_props["WriteAttributes"])


def ensure_demo_users(endpoint: str, pool_id: str) -> None:
    idp = aws_client("cognito-idp", endpoint)
    for user, name in DEMO_USERS.items():
        try:
            idp.admin_get_user(UserPoolId=pool_id, Username=user)
            continue
        except idp.exceptions.UserNotFoundException:
            pass
        idp.admin_create_user(
            UserPoolId=pool_id,
            Username=user,
            UserAttributes=[
                {"Name": "email", "Value": demo_email(user)},
                {"Name": "email_verified", "Value": "true"},
                {"Name": "name", "Value": name},
            ],
            MessageAction="SUPPRESS",
        )
        idp.admin_set_user_password(
            UserPoolId=pool_id, Username=user, Password=demo_password(user), Permanent=True
        )


def sign_in(endpoint: str, client_id: str, user: str, password: str | None = None) -> str:
    """An access token from the user pool: the same USER_PASSWORD_AUTH sign-in a deployment
    offers to scripts (the web app uses the authorization-code flow of the same pool)."""
    idp = aws_client("cognito-idp", endpoint)
    result = idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user, "PASSWORD": password or demo_password(user)},
    )
    return result["AuthenticationResult"]["AccessToken"]


def bootstrap(endpoint: str, stage: str) -> dict[str, str]:
    deploy_stack(endpoint, stage)
    ensure_buckets(endpoint, stage)
    ensure_bucket_notifications(endpoint, stage)
    ensure_bucket_lifecycles(endpoint, stage)
    ensure_bucket_versioning(endpoint, stage)
    identity = ensure_user_pool(endpoint, stage)
    ensure_demo_users(endpoint, identity["user_pool_id"])
    return identity
