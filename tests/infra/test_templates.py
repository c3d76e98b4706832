"""cfn-lint finds no error in any template of `infra/` nor in the one-template package
(`chalice package --merge-template`), and the package wires the stage's IAM policy file and the
SQS event functions to the queues the same template creates."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra import deploy

ROOT = Path(__file__).resolve().parents[2]
# Fragments name resources of the others (the Chalice functions, RestAPI, Stage): linted inside
# the package only. resources.yaml is also deployed alone (`infra.deploy data-plane`).
FRAGMENTS = {"operations.yaml", "site.yaml"}
TEMPLATES = sorted(p for p in (ROOT / "infra").glob("*.yaml") if p.name not in FRAGMENTS)
CFN_LINT_ERROR = 2  # cfn-lint's exit code is a bit set: 2 errors, 4 warnings, 8 informational


def cfn_lint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "import sys; from cfnlint.runner import main; sys.exit(main())",
                           str(path)], capture_output=True, text=True, timeout=300)


class _CfnLoader(yaml.SafeLoader):
    """Reads the short intrinsic forms (`!Ref`) chalice may write, as plain values."""


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


@pytest.fixture(scope="module")
def packaged(built_package) -> Path:
    return built_package.template


@pytest.mark.parametrize("template", TEMPLATES, ids=[t.name for t in TEMPLATES])
def test_template_has_no_cfn_lint_error(template):
    result = cfn_lint(template)
    assert not result.returncode & CFN_LINT_ERROR, result.stdout + result.stderr


def test_packaged_template_has_no_cfn_lint_error(packaged):
    result = cfn_lint(packaged)
    assert not result.returncode & CFN_LINT_ERROR, result.stdout + result.stderr


def test_package_holds_functions_and_every_resource(packaged):
    resources = yaml.load(packaged.read_text(), Loader=_CfnLoader)["Resources"]
    declared = {name for path in (deploy.RESOURCES, deploy.SITE)
                for name in yaml.safe_load(path.read_text())["Resources"]}
    assert declared <= set(resources)
    assert {"APIHandler", "RestAPI", *deploy.FUNCTION_QUEUES} <= set(resources)


def test_every_function_role_carries_the_stage_policy_file(packaged):
    resources = yaml.load(packaged.read_text(), Loader=_CfnLoader)["Resources"]
    policy = json.loads((ROOT / ".chalice" / "policy-dev.json").read_text())
    functions = [r for r in resources.values() if r["Type"] == "AWS::Serverless::Function"]
    # the roles Lambda assumes (API Gateway's logging role, operations.yaml, is the only other one)
    roles = [r for r in resources.values() if r["Type"] == "AWS::IAM::Role"
             and "lambda.amazonaws.com" in json.dumps(r["Properties"]["AssumeRolePolicyDocument"])]
    assert len(roles) == len(functions) == 1 + len(deploy.FUNCTION_QUEUES)
    for role in roles:
        assert [p["PolicyDocument"]["Statement"] for p in role["Properties"]["Policies"]] == [policy["Statement"]]


def test_event_functions_read_a_queue_of_the_template_one_message_at_a_time(packaged):
    """Every SQS event function (found in the package, so a new one cannot be missed) reads a
    queue the same template declares, waits for it, and takes one message per invocation."""
    resources = yaml.load(packaged.read_text(), Loader=_CfnLoader)["Resources"]
    queues = {r["Properties"]["QueueName"]["Fn::Sub"].replace("${Stage}", "dev"): name
              for name, r in resources.items() if r["Type"] == "AWS::SQS::Queue"}
    for function, resource in resources.items():
        for source in resource.get("Properties", {}).get("Events", {}).values():
            if source["Type"] != "SQS":
                continue
            queue = queues[source["Properties"]["Queue"]["Fn::Sub"].rsplit(":", 1)[1]]
            assert source["Properties"]["BatchSize"] == 1
            assert queue in resource.get("DependsOn", []), f"{function} does not wait for {queue}"
            visibility = resources[queue]["Properties"].get("VisibilityTimeout", 30)
            assert visibility >= resource["Properties"]["Timeout"], (function, queue)


def test_make_lint_lints_what_is_deployed_and_no_fragment():
    """`make lint` must pass on a clean tree: cfn-lint on a fragment alone reports the resources
    it names from the other parts as errors."""
    recipe = (ROOT / "Makefile").read_text().split("\nlint:", 1)[1].split("\n\n", 1)[0]
    linted = {word for line in recipe.splitlines() if "cfn-lint" in line
              for word in line.split("cfn-lint", 1)[1].split()}
    assert linted == {"infra/resources.yaml", "build/package/sam.yaml"}
    assert not {f"infra/{name}" for name in FRAGMENTS} & linted
