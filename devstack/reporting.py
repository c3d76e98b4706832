"""The local stack's demo reporting site `demo`: administered by carol, embeddable from
http://127.0.0.1:3002 (the host page of the integration guide). Idempotent."""
from __future__ import annotations

import json

from devstack.bootstrap import aws_client, demo_email

DEMO_SITE = "demo"
DEMO_ORIGINS = ["http://127.0.0.1:3002"]
DEMO_ADMIN = "carol"
OBELISK_ADMIN = "alice"  # may administer sites through the API locally (OBELISK_ADMINS)


def ensure_demo_site(endpoint: str, stage: str) -> None:
    table = f"obelisk-{stage}-reports"
    item = {
        "pk": {"S": f"SITE#{DEMO_SITE}"}, "sk": {"S": "META"}, "site_id": {"S": DEMO_SITE},
        "admins": {"S": json.dumps([demo_email(DEMO_ADMIN)])}, "origins": {"S": json.dumps(DEMO_ORIGINS)},
        "return_format": {"S": "HL7"}, "return_endpoint": {"S": ""},
    }
    try:  # never overwrite a site an admin has since reconfigured
        aws_client("dynamodb", endpoint).put_item(TableName=table, Item=item,
                                                  ConditionExpression="attribute_not_exists(pk)")
    except aws_client("dynamodb", endpoint).exceptions.ConditionalCheckFailedException:
        pass
