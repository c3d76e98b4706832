"""What `make deploy` (infra/deploy.py) decides, without AWS: a failed first creation can be run
again, the operator's choices (custom domains, issuer, MFA, ...) survive a later deploy that does
not repeat them, and with one's own OIDC issuer the web app still signs in."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from infra import deploy
from web.build import oidc_auth


class FakeCloudFormation:
    """CloudFormation as AWS treats a stack whose first creation rolled back: ROLLBACK_COMPLETE
    cannot be updated, termination protection forbids deleting it."""

    def __init__(self, status: str | None):
        self.status, self.protected, self.calls = status, status is not None, []

    def describe_stacks(self, StackName):  # noqa: N803 - boto3's names
        if self.status is None:
            raise ClientError({"Error": {"Code": "ValidationError", "Message": f"Stack with id {StackName} does not exist"}},
                              "DescribeStacks")
        return {"Stacks": [{"StackName": StackName, "StackStatus": self.status, "Outputs": [], "Parameters": []}]}

    def update_stack(self, **arguments):
        self.calls.append("update_stack")
        if self.status == "ROLLBACK_COMPLETE":
            raise ClientError({"Error": {"Code": "ValidationError", "Message": "Stack:x is in ROLLBACK_COMPLETE state "
                                         "and can not be updated."}}, "UpdateStack")
        self.status = "UPDATE_COMPLETE"

    def create_stack(self, **arguments):
        self.calls.append("create_stack")
        if self.status is not None:
            raise ClientError({"Error": {"Code": "AlreadyExistsException", "Message": "exists"}}, "CreateStack")
        self.status, self.protected = "CREATE_COMPLETE", arguments.get("EnableTerminationProtection", False)

    def update_termination_protection(self, StackName, EnableTerminationProtection):  # noqa: N803
        self.calls.append("update_termination_protection")
        self.protected = EnableTerminationProtection

    def delete_stack(self, StackName):  # noqa: N803
        self.calls.append("delete_stack")
        if self.protected:
            raise ClientError({"Error": {"Code": "ValidationError", "Message": "termination protection"}}, "DeleteStack")
        self.status = None

    def get_waiter(self, name):
        return type("Waiter", (), {"wait": lambda *_a, **_k: None})()


@pytest.fixture
def cloudformation(monkeypatch):
    def install(status):
        fake = FakeCloudFormation(status)
        monkeypatch.setattr(deploy.boto3, "client", lambda service, **_: fake)
        return fake
    return install


def test_a_failed_first_creation_is_deleted_and_created_again(cloudformation):
    fake = cloudformation("ROLLBACK_COMPLETE")
    deploy.remove_failed_creation("obelisk-dev")
    deploy.deploy_package("dev", "https://bucket/template.yaml", {"Stage": "dev"})
    assert fake.status == "CREATE_COMPLETE" and fake.protected
    assert fake.calls == ["update_termination_protection", "delete_stack", "create_stack"]


def test_a_deployed_stack_is_updated_not_deleted(cloudformation):
    fake = cloudformation("UPDATE_COMPLETE")
    assert not deploy.remove_failed_creation("obelisk-dev")
    deploy.deploy_package("dev", "https://bucket/template.yaml", {"Stage": "dev"})
    assert fake.calls == ["update_stack"]


def test_the_data_plane_alone_is_retryable_too(cloudformation, tmp_path):
    fake = cloudformation("ROLLBACK_COMPLETE")
    template = tmp_path / "t.yaml"
    template.write_text("Resources: {}")
    deploy.deploy_template("obelisk-dev", template, {"Stage": "dev"})
    assert fake.status == "CREATE_COMPLETE" and "update_stack" not in fake.calls


def test_the_operators_choices_persist_across_deploys():
    previous = {"WebDomain": "obelisk.hospital.org", "OhifDomain": "viewer.hospital.org",
                "CertificateArn": "arn:aws:acm:us-east-1:1:certificate/x", "OidcIssuer": "https://idp.org/realms/k",
                "MfaConfiguration": "ON", "PublicUrl": "https://obelisk.hospital.org"}
    kept = deploy.persisted_parameters({option: None for option in deploy.PERSISTED}, previous)
    assert kept == {k: v for k, v in previous.items() if k != "PublicUrl"}
    changed = deploy.persisted_parameters({"web_domain": "", "mfa": "OPTIONAL"}, previous)
    assert changed["WebDomain"] == "" and changed["MfaConfiguration"] == "OPTIONAL"
    assert changed["OhifDomain"] == "viewer.hospital.org"


def test_every_persisted_choice_is_a_parameter_of_the_template():
    assert set(deploy.PERSISTED.values()) <= set(deploy.merged_template("dev")["Parameters"])


def test_a_custom_domain_is_the_public_url_and_the_sign_in_return(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    outputs = {"WebUrl": "https://obelisk.hospital.org", "OhifUrl": "https://viewer.hospital.org",
               "DicomBucket": "obelisk-prod-dicom"}
    parameters = deploy.site_parameters(outputs, "eu-west-1", "<html></html>")
    assert parameters["PublicUrl"] == "https://obelisk.hospital.org"
    assert parameters["ViewerUrl"] == "https://viewer.hospital.org"
    assert parameters["CallbackUrl"] == "https://obelisk.hospital.org/callback"
    assert parameters["LogoutUrl"] == "https://obelisk.hospital.org/"
    template = deploy.merged_template("prod")
    web_url = template["Outputs"]["WebUrl"]["Value"]
    assert web_url["Fn::If"][:2] == ["HasWebDomain", {"Fn::Sub": "https://${WebDomain}"}]
    client = template["Resources"]["UserPoolClient"]["Properties"]
    assert client["CallbackURLs"] == [{"Ref": "CallbackUrl"}] and client["LogoutURLs"] == [{"Ref": "LogoutUrl"}]
    variables = template["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert variables["OBELISK_PUBLIC_URL"] == variables["OBELISK_WEB_URL"] == {"Ref": "PublicUrl"}
    assert variables["OBELISK_OHIF_URL"] == {"Ref": "ViewerUrl"}


def test_with_ones_own_issuer_the_web_app_signs_in_there():
    discovery = {"https://keycloak.hospital.org/realms/kheops": {
        "authorization_endpoint": "https://keycloak.hospital.org/realms/kheops/protocol/openid-connect/auth",
        "token_endpoint": "https://keycloak.hospital.org/realms/kheops/protocol/openid-connect/token",
        "end_session_endpoint": "https://keycloak.hospital.org/realms/kheops/protocol/openid-connect/logout"}}
    outputs = {"OidcIssuer": "https://keycloak.hospital.org/realms/kheops", "OidcClientIds": "obelisk-web,scripts",
               "WebClientId": "obelisk-web", "OidcRequiredScope": "obelisk", "OhifUrl": "https://viewer.hospital.org"}
    config = deploy.web_config(outputs, "https://obelisk.hospital.org/api", discovery.__getitem__)
    provider = discovery[outputs["OidcIssuer"]]
    # the stack names the web client: the one given, else the first client the API accepts
    web_client = deploy.merged_template("dev")["Outputs"]["WebClientId"]["Value"]["Fn::If"]
    assert web_client[0] == "CreateUserPool" and web_client[2]["Fn::If"][1] == {"Ref": "OidcWebClientId"}
    assert config["auth"] == oidc_auth(provider["authorization_endpoint"], provider["token_endpoint"], "obelisk-web",
                                       provider["end_session_endpoint"], scope="openid email profile obelisk")


def test_add_user_with_ones_own_issuer_says_where_users_are_added(monkeypatch, capsys):
    """With `--oidc-issuer` the stack has no user pool: `add-user` says users live at that issuer
    instead of failing with a KeyError."""
    monkeypatch.setattr(deploy, "stack_outputs", lambda name: {"PublicUrl": "https://x.example"})
    monkeypatch.setattr(deploy, "stack_parameters", lambda name: {"OidcIssuer": "https://idp.example/realms/h"})
    with pytest.raises(SystemExit) as stopped:
        deploy.add_user("prod", "a@b.org", "A")
    message = str(stopped.value)
    assert "https://idp.example/realms/h" in message and "user pool" in message
