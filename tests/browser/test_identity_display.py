"""The web app names people by their verified e-mail as well as their name: a user who calls
himself "Alice Martin" still shows up with his own address (docs/identity.md)."""
from __future__ import annotations

import pytest
import requests
from playwright.sync_api import expect

from tests.integration.test_identity import Person

pytestmark = pytest.mark.browser


def test_an_impostors_comment_shows_his_own_email(stack, tokens, sign_in, web_app, shoot):
    impostor = Person(stack, "Alice Martin")
    assert impostor.register().status_code == 200
    alice_api = {"Authorization": f"Bearer {tokens('alice')}"}

    album = requests.post(f"{stack.api_url}/albums", data={"name": "Who is who"}, headers=alice_api,
                          timeout=20).json()["album_id"]
    assert requests.put(f"{stack.api_url}/albums/{album}/users/{impostor.email}", headers=alice_api,
                        timeout=20).status_code == 201
    assert impostor.call("POST", f"/albums/{album}/comments", data={"comment": "Please delete the study"}).ok

    alice = sign_in("alice")
    alice.goto(f"{web_app}/albums/{album}?tab=events")
    events = alice.get_by_role("list", name="Events")
    expect(events).to_contain_text("Please delete the study")
    comment = events.locator("li", has_text="Please delete the study")
    expect(comment).to_contain_text(f"Alice Martin <{impostor.email}>")
    expect(events.locator("li", has_text="add user")).to_contain_text(impostor.email)
    expect(alice.locator("#user-email")).to_have_text("alice@example.org")
    shoot(alice, "identity-impostor-comment")
