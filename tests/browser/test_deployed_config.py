"""`make deploy` wires the web app: its config.json is rendered from the stack outputs
(infra.deploy.web_config) in the shape the app reads, and a user signs in through it in Chromium
(authorization code + PKCE at the hosted UI the outputs name; a loopback stand-in for Cognito's)."""
from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from infra import deploy
from tests.browser.conftest import _serve
from web.build import build_site

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def deployed_web_app(stack, hosted_ui, tmp_path_factory):
    outputs = {"HostedSignInUrl": hosted_ui.url, "UserPoolClientId": stack.identity["client_id"],
               "OhifUrl": "https://viewer.example.org/", "WebUrl": "https://web.example.org"}
    config = deploy.web_config(outputs, stack.api_url)
    site = build_site(tmp_path_factory.mktemp("web-deployed") / "dist", config["api_url"], config["auth"],
                      config["ohif_url"])
    assert json.loads((site / "config.json").read_text()) == config
    yield from _serve(stack, site, "web-app-deployed")


def test_a_user_signs_in_through_the_config_rendered_from_stack_outputs(browser, stack, deployed_web_app, hosted_ui):
    context = browser.new_context()
    page = context.new_page()
    page.goto(deployed_web_app + "/")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.locator("#user-name")).to_have_text("Alice Martin")
    authorize = [r for r in hosted_ui.requests if r[0] == "/oauth2/authorize"][-1][1]
    assert authorize["client_id"] == stack.identity["client_id"] and authorize["code_challenge_method"] == "S256"
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert hosted_ui.requests[-1][0] == "/logout"
    context.close()
