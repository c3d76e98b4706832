"""The assembled template (infra.deploy.merged_template): the web app's distribution serves the
API under /api as the local front door does (one origin, nothing cached, every method, the
caller's Authorization forwarded, API Gateway's own Host), and the user pool offers TOTP
multi-factor sign-in and a choice of e-mail sender, both parameters."""
from __future__ import annotations

import pytest

from infra import deploy

# AWS managed policies (ids fixed by AWS)
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


@pytest.fixture(scope="module")
def template() -> dict:
    return deploy.merged_template("dev")


def managed(template: dict, value: dict) -> str:
    _, kind, name = value["Fn::FindInMap"]
    return template["Mappings"]["Managed"][kind][name]


def test_the_web_app_distribution_routes_api_to_api_gateway_uncached(template):
    config = template["Resources"]["WebDistribution"]["Properties"]["DistributionConfig"]
    behaviour = next(b for b in config["CacheBehaviors"] if b["PathPattern"] == "/api/*")
    origin = next(o for o in config["Origins"] if o["Id"] == behaviour["TargetOriginId"])
    assert origin["DomainName"] == {"Fn::Sub": "${RestAPI}.execute-api.${AWS::Region}.amazonaws.com"}
    assert "OriginPath" not in origin  # the stage is `api`: /api/studies is the API's /studies
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert set(behaviour["AllowedMethods"]) == {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
    assert managed(template, behaviour["CachePolicyId"]) == CACHING_DISABLED
    assert managed(template, behaviour["OriginRequestPolicyId"]) == ALL_VIEWER_EXCEPT_HOST_HEADER
    assert "FunctionAssociations" not in behaviour  # no SPA fallback on the API
    assert behaviour["ViewerProtocolPolicy"] == "https-only"  # a redirect would turn a POST into a GET


def test_the_api_url_the_sites_use_is_the_web_apps_origin(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    outputs = {"WebUrl": "https://d1.cloudfront.net", "OhifUrl": "https://d2.cloudfront.net",
               "DicomBucket": "obelisk-dev-dicom"}
    parameters = deploy.site_parameters(outputs, "us-east-1", "")
    assert parameters["PublicUrl"] == outputs["WebUrl"]  # the API is {PublicUrl}/api


def test_the_user_pool_offers_totp_and_a_choice_of_email_sender(template):
    parameters = template["Parameters"]
    assert parameters["MfaConfiguration"]["Default"] == "OPTIONAL"
    assert set(parameters["MfaConfiguration"]["AllowedValues"]) == {"OFF", "OPTIONAL", "ON"}
    pool = template["Resources"]["UserPool"]["Properties"]
    assert pool["MfaConfiguration"] == {"Ref": "MfaConfiguration"}
    assert pool["EnabledMfas"]["Fn::If"][1:] == [{"Ref": "AWS::NoValue"}, ["SOFTWARE_TOKEN_MFA"]]
    condition, with_ses, default = pool["EmailConfiguration"]["Fn::If"]
    assert with_ses["EmailSendingAccount"] == "DEVELOPER" and with_ses["SourceArn"] == {"Ref": "SesIdentityArn"}
    assert default == {"EmailSendingAccount": "COGNITO_DEFAULT"}
