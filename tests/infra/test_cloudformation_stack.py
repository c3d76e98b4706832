"""The data-plane template deployed through the emulator's CloudFormation by `infra/deploy.py`
(the code `make deploy` runs, pointed at the emulator by AWS_ENDPOINT_URL alone) makes a working
stack: an API configured only with the stack's output names stores a study and finds it.

What this proves, exactly: every DynamoDB table (with its indexes), the DICOM bucket and the SQS
queues the API uses are created by CloudFormation from `infra/resources.yaml`, and the names
the deploy script wires into the API (`infra.deploy.environment`) are the ones the API needs.
The API runs with a stage name ("unwired") whose default names exist nowhere, so nothing works
by the naming convention alone. What it does not prove: moto's CloudFormation skips the
Cognito pool and client (created through the API from the same template properties, as
`devstack/bootstrap.py` does), and `infra/site.yaml` (CloudFront) and the Lambda/API Gateway
resources are checked by cfn-lint only (test_templates.py)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import pydicom
import pytest
from pydicom.data import get_testdata_file

from devstack import bootstrap
from devstack.stack import free_port, wait_for
from infra import deploy
from tests.dicomweb_session import DICOMwebClient

ROOT = Path(__file__).resolve().parents[2]
STACK_STAGE = "cfn"
API_STAGE = "unwired"


def _spawn(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, env={**os.environ, **(env or {})},
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cfn")
    url = f"http://127.0.0.1:{free_port()}"
    process = _spawn(["devstack.emulator", "--port", url.rsplit(":", 1)[1], "--state", ""], folder / "emulator.log")
    try:
        wait_for(url + "/_emulator/calls", process=process)
        yield url, folder
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.fixture(scope="module")
def deployed(emulator):
    """The resources stack as `make deploy` creates it, then the emulator-only extras."""
    url, _ = emulator
    aws = {"AWS_ENDPOINT_URL": url, "AWS_DEFAULT_REGION": bootstrap.REGION,
           "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in aws.items():
            patch.setenv(key, value)
        outputs = deploy.deploy_template(deploy.stack_names(STACK_STAGE)["resources"], deploy.RESOURCES,
                                         {"Stage": STACK_STAGE})
        resources = boto3.client("cloudformation").list_stack_resources(
            StackName=deploy.stack_names(STACK_STAGE)["resources"])["StackResourceSummaries"]
    identity = bootstrap.bootstrap(url, STACK_STAGE)  # stack exists: only TTL, Cognito, demo users
    return {"outputs": outputs, "resources": resources, "identity": identity, "aws": aws}


@pytest.fixture(scope="module")
def api_url(emulator, deployed):
    url, folder = emulator
    port = free_port()
    env = {
        **deployed["aws"],
        **deploy.environment(deployed["outputs"]),
        "OBELISK_STAGE": API_STAGE,
        "OBELISK_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "OIDC_ISSUER": deployed["identity"]["issuer"],  # moto's CloudFormation skips the user pool
        "OIDC_DISCOVERY_URL": deployed["identity"]["discovery_url"],
        "OIDC_CLIENT_IDS": deployed["identity"]["client_id"],
    }
    process = _spawn(["devstack.api_server", "--port", str(port), "--stage", API_STAGE], folder / "api.log", env)
    try:
        wait_for(f"http://127.0.0.1:{port}/api/liveness", process=process)
        yield f"http://127.0.0.1:{port}/api"
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_cloudformation_created_the_data_plane(deployed):
    created = {r["LogicalResourceId"] for r in deployed["resources"] if r["ResourceStatus"] == "CREATE_COMPLETE"}
    template = bootstrap.load_template()["Resources"]
    data_plane = {name for name, r in template.items()
                  if r["Type"] in ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SQS::Queue")}
    assert data_plane <= created
    assert deployed["outputs"]["EventsQueue"] == f"obelisk-{STACK_STAGE}-events"


def test_api_wired_with_stack_outputs_stores_and_finds_a_study(deployed, api_url):
    token = bootstrap.sign_in(deployed["aws"]["AWS_ENDPOINT_URL"], deployed["identity"]["client_id"], "alice")
    client = DICOMwebClient(url=api_url, headers={"Authorization": f"Bearer {token}"})
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    client.store_instances([dataset])
    found = {study["0020000D"]["Value"][0] for study in client.search_for_studies()}
    assert str(dataset.StudyInstanceUID) in found
    s3 = boto3.client("s3", endpoint_url=deployed["aws"]["AWS_ENDPOINT_URL"], region_name=bootstrap.REGION,
                      aws_access_key_id="local", aws_secret_access_key="local")
    stored = s3.list_objects_v2(Bucket=deployed["outputs"]["DicomBucket"]).get("KeyCount", 0)
    assert stored >= 1
