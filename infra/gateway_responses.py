"""API Gateway's own answers, declared once for both deploy paths.

A request matching no route gets API Gateway's MISSING_AUTHENTICATION_TOKEN answer (403 "Missing
Authentication Token"); Obelisk answers it 404 in the documented error shape, as the local API
does (devstack/api_server.py). The one-template path puts it on the SAM API (`GatewayResponses`,
written into the API definition, so it is deployed with it); `chalice deploy` gets it through the
API Gateway API, followed by a new deployment of the stage."""
from __future__ import annotations

import json
from typing import Any

import boto3

NOT_FOUND_BODY = {"message": "Not Found", "detail": "no route matches this method and path"}
RESPONSES = {
    "MISSING_AUTHENTICATION_TOKEN": {
        "StatusCode": "404",
        "Headers": {"Access-Control-Allow-Origin": "'*'", "Content-Type": "'application/json'"},
        "Body": NOT_FOUND_BODY,
    },
}


def sam_gateway_responses() -> dict[str, Any]:
    """`AWS::Serverless::Api` `GatewayResponses`."""
    return {kind: {"StatusCode": r["StatusCode"], "ResponseParameters": {"Headers": r["Headers"]},
                   "ResponseTemplates": {"application/json": json.dumps(r["Body"])}}
            for kind, r in RESPONSES.items()}


def put(rest_api_id: str, stage: str = "api") -> None:
    """Sets the responses on a deployed API and redeploys its stage (they apply from then on)."""
    apigateway = boto3.client("apigateway")
    for kind, r in RESPONSES.items():
        apigateway.put_gateway_response(
            restApiId=rest_api_id, responseType=kind, statusCode=r["StatusCode"],
            responseParameters={f"gatewayresponse.header.{k}": v for k, v in r["Headers"].items()},
            responseTemplates={"application/json": json.dumps(r["Body"])})
    apigateway.create_deployment(restApiId=rest_api_id, stageName=stage)
