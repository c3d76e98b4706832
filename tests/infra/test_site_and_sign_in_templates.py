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


def test_the_web_app_distribution_forwards_the_buckets_reads_as_presigned(template):
    """docs/dicomweb.md, "Which URL": every prefix a read is redirected to is a behaviour of the
    public origin whose origin is the bucket, virtual-hosted at the host the API presigns for, with
    the viewer's path and every query parameter (a custom policy: managed ones drop S3's
    response-* overrides), the CORS headers and no cookie; never cached, reads only."""
    from chalicelib.store.dicom_store import READ_PREFIXES

    config = template["Resources"]["WebDistribution"]["Properties"]["DistributionConfig"]
    storage = [b for b in config["CacheBehaviors"] if b["TargetOriginId"] == "dicom"]
    assert sorted(b["PathPattern"] for b in storage) == sorted(f"/{prefix}*" for prefix in READ_PREFIXES)
    origin = next(o for o in config["Origins"] if o["Id"] == "dicom")
    bucket = template["Resources"]["DicomBucket"]["Properties"]["BucketName"]["Fn::Sub"]
    assert origin["DomainName"] == {"Fn::Sub": bucket + ".s3.${AWS::Region}.${AWS::URLSuffix}"}
    assert "OriginPath" not in origin and "OriginAccessControlId" not in origin  # the signature authenticates
    environment = template["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert environment["OBELISK_PUBLIC_STORAGE_ENDPOINT"] == {"Fn::Sub": "https://s3.${AWS::Region}.${AWS::URLSuffix}"}
    for behaviour in storage:
        assert set(behaviour["AllowedMethods"]) == {"GET", "HEAD", "OPTIONS"}
        assert managed(template, behaviour["CachePolicyId"]) == CACHING_DISABLED
        assert behaviour["OriginRequestPolicyId"] == {"Ref": "StorageReadsPolicy"}
        assert behaviour["ViewerProtocolPolicy"] == "https-only" and "FunctionAssociations" not in behaviour
    policy = template["Resources"]["StorageReadsPolicy"]["Properties"]["OriginRequestPolicyConfig"]
    assert policy["QueryStringsConfig"] == {"QueryStringBehavior": "all"}
    assert policy["CookiesConfig"] == {"CookieBehavior": "none"}
    assert policy["HeadersConfig"]["HeaderBehavior"] == "whitelist"
    assert {h.lower() for h in policy["HeadersConfig"]["Headers"]} == {
        "origin", "access-control-request-method", "access-control-request-headers"}


def test_the_api_origin_marks_what_it_forwards_as_the_local_front_door_does(template):
    from chalicelib.store.dicom_store import PUBLIC_ORIGIN_HEADER
    from devstack import static_site

    config = template["Resources"]["WebDistribution"]["Properties"]["DistributionConfig"]
    api = next(o for o in config["Origins"] if o["Id"] == "api")
    assert api["OriginCustomHeaders"] == [{"HeaderName": PUBLIC_ORIGIN_HEADER, "HeaderValue": "1"}]
    policy = template["Resources"]["StorageReadsPolicy"]["Properties"]["OriginRequestPolicyConfig"]
    forwarded_by_cloudfront = {"range", "if-range"}  # without a policy (docs/dicomweb.md)
    assert set(static_site.STORAGE_HEADERS) == {h.lower() for h in policy["HeadersConfig"]["Headers"]} | forwarded_by_cloudfront
