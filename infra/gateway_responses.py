"""API Gateway's own answers, declared once for both deploy paths.

A request matching no route, an unknown path or a method its path does not have, gets API
Gateway's MISSING_AUTHENTICATION_TOKEN answer (403 "Missing Authentication Token"); Obelisk
answers it 404 in the documented error shape with `X-Content-Type-Options: nosniff` (as every
answer of the function carries), as the local API does (devstack/api_server.py). `infra/deploy.py` puts it on the SAM API (`GatewayResponses`,
written into the API definition, so it is deployed with it)."""
from __future__ import annotations

import json
from typing import Any

NOT_FOUND_BODY = {"message": "Not Found", "detail": "no route matches this method and path"}
RESPONSES = {
    "MISSING_AUTHENTICATION_TOKEN": {
        "StatusCode": "404",
        "Headers": {"Access-Control-Allow-Origin": "'*'", "Content-Type": "'application/json'",
                    "X-Content-Type-Options": "'nosniff'"},
        "Body": NOT_FOUND_BODY,
    },
}


def no_route_answer() -> tuple[int, dict[str, str], bytes]:
    """The status, headers and body API Gateway sends for a request matching no route."""
    declared = RESPONSES["MISSING_AUTHENTICATION_TOKEN"]
    headers = {name: value.strip("'") for name, value in declared["Headers"].items()}
    return int(declared["StatusCode"]), headers, json.dumps(declared["Body"]).encode()


def sam_gateway_responses() -> dict[str, Any]:
    """`AWS::Serverless::Api` `GatewayResponses`."""
    return {kind: {"StatusCode": r["StatusCode"], "ResponseParameters": {"Headers": r["Headers"]},
                   "ResponseTemplates": {"application/json": json.dumps(r["Body"])}}
            for kind, r in RESPONSES.items()}
