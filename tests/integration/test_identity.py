"""Who a user is, to others: only an e-mail the identity provider verified is stored, each e-mail
belongs to one Obelisk user, and wherever a user is shown the e-mail comes with the name
(docs/identity.md). Every test makes its own users, so the demo users stay as they are."""
from __future__ import annotations

import uuid

import pytest
import requests

from devstack import bootstrap

PASSWORD = "Identity-Test-2026"


class Person:
    """A fresh user of the test pool, signed in with the web client (USER_PASSWORD_AUTH)."""

    def __init__(self, stack, name: str, email: str | None = None, *, verified: bool = True):
        self.stack = stack
        self.idp = bootstrap.aws_client("cognito-idp", stack.emulator_url)
        self.pool = stack.identity["user_pool_id"]
        self.username = f"id-{uuid.uuid4().hex[:10]}"
        self.email = email or f"{self.username}@example.org"
        self.idp.admin_create_user(UserPoolId=self.pool, Username=self.username, MessageAction="SUPPRESS",
                                   UserAttributes=[{"Name": "email", "Value": self.email},
                                                   {"Name": "email_verified", "Value": str(verified).lower()},
                                                   {"Name": "name", "Value": name}])
        self.idp.admin_set_user_password(UserPoolId=self.pool, Username=self.username, Password=PASSWORD,
                                         Permanent=True)
        self.token = stack.token(self.username, PASSWORD)

    def register(self) -> requests.Response:
        return requests.post(f"{self.stack.api_url}/register", data={"access_token": self.token}, timeout=20)

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, f"{self.stack.api_url}{path}", timeout=20,
                                headers={"Authorization": f"Bearer {self.token}"}, **kwargs)

    def set_attributes(self, **attributes: str) -> None:
        """What the provider holds after a change made outside the pool's self-service rules
        (an administrator, or a pool without them): Obelisk must not take it on trust."""
        self.idp.admin_update_user_attributes(UserPoolId=self.pool, Username=self.username, UserAttributes=[
            {"Name": name, "Value": value} for name, value in attributes.items()])


def lookup(person: Person, reference: str) -> requests.Response:
    return person.call("GET", "/users", params={"reference": reference})


def test_a_self_service_email_change_does_not_reach_obelisk(stack):
    alice = Person(stack, "Alice Identity")
    bob = Person(stack, "Bob Identity")
    assert bob.register().json()["email"] == bob.email

    # bob changes his own e-mail to alice's through Cognito's self-service call; the deployed app
    # client may not write e-mail at all (infra/resources.yaml), and where a pool lets it, the
    # change stays unverified: either way it must not reach Obelisk
    try:
        bob.idp.update_user_attributes(AccessToken=bob.token, UserAttributes=[{"Name": "email", "Value": alice.email}])
    except bob.idp.exceptions.NotAuthorizedException:
        pass
    assert bob.register().json()["email"] == bob.email, "an e-mail not yet verified never replaces the stored one"

    assert alice.register().json()["email"] == alice.email
    assert lookup(bob, alice.email).json()["sub"] == alice.register().json()["sub"]

    # nor can he mark an address verified himself: the web client may not write email_verified
    with pytest.raises(bob.idp.exceptions.NotAuthorizedException):
        bob.idp.update_user_attributes(AccessToken=bob.token, UserAttributes=[
            {"Name": "email", "Value": alice.email}, {"Name": "email_verified", "Value": "true"}])


def test_an_unverified_email_is_never_stored(stack):
    bob = Person(stack, "Bob Unverified")
    assert bob.register().status_code == 200
    claimed = f"claimed-{uuid.uuid4().hex[:8]}@example.org"
    bob.set_attributes(email=claimed, email_verified="false", name="Bob Renamed")

    answer = bob.register()
    assert answer.status_code == 200
    assert answer.json()["email"] == bob.email, "the verified e-mail stored before stays"
    assert answer.json()["name"] == "Bob Renamed"
    assert lookup(bob, claimed).status_code == 204, "nobody is found by an unverified address"


def test_a_new_user_without_a_verified_email_is_refused(stack):
    nobody = Person(stack, "Alice Martin", verified=False)
    answer = nobody.register()
    assert answer.status_code == 403
    assert "verif" in answer.json()["detail"]
    assert nobody.call("GET", "/inboxinfo").status_code == 403, "nor is the user registered on first call"
    nobody.set_attributes(email_verified="true")
    assert nobody.register().json()["email"] == nobody.email


def test_an_email_held_by_another_user_is_refused_with_409(stack):
    alice = Person(stack, "Alice Holder")
    bob = Person(stack, "Bob Claimant")
    alice_sub = alice.register().json()["sub"]
    assert bob.register().status_code == 200

    bob.set_attributes(email=alice.email.upper(), email_verified="true")  # e-mails compare case-insensitively
    answer = bob.register()
    assert answer.status_code == 409
    assert answer.json()["message"] == "Conflict" and "another Obelisk user" in answer.json()["detail"]
    assert lookup(alice, bob.email).status_code == 200, "bob keeps his own address"
    assert lookup(bob, alice.email).json()["sub"] == alice_sub

    # the same for a first registration with an address already held
    carol = Person(stack, "Carol Claimant", alice.email)
    assert carol.register().status_code == 409
    assert carol.call("GET", "/inboxinfo").status_code == 409
    assert lookup(bob, alice.email).json()["sub"] == alice_sub


def test_an_address_given_up_can_be_claimed_by_someone_else(stack):
    alice = Person(stack, "Alice Mover")
    old = alice.email
    assert alice.register().status_code == 200
    moved = f"moved-{uuid.uuid4().hex[:8]}@example.org"
    alice.set_attributes(email=moved, email_verified="true")
    assert alice.register().json()["email"] == moved
    assert lookup(alice, old).status_code == 204

    heir = Person(stack, "Heir", old)
    assert heir.register().json()["email"] == old
    assert lookup(alice, old).json()["sub"] == heir.register().json()["sub"]


def test_comments_and_events_show_the_email_with_the_name(stack, tokens):
    """bob renamed himself "Alice Martin": what others read still names his e-mail."""
    owner = Person(stack, "Owner Identity")
    bob = Person(stack, "Bob Impostor")
    owner.register()
    bob.register()
    album = owner.call("POST", "/albums", data={"name": "identity"}).json()["album_id"]
    assert owner.call("PUT", f"/albums/{album}/users/{bob.email}").status_code == 201
    assert bob.call("POST", f"/albums/{album}/comments", data={"comment": "hello"}).status_code in (200, 204)
    bob.set_attributes(name="Alice Martin")
    assert bob.register().json()["name"] == "Alice Martin"

    events = owner.call("GET", f"/albums/{album}/events").json()
    comment = next(e for e in events if e["event_type"] == "Comment")
    assert comment["source"]["name"] == "Alice Martin" and comment["source"]["email"] == bob.email
    joined = next(e for e in events if e["event_type"] == "Mutation" and e.get("target", {}).get("sub"))
    assert joined["target"]["email"] == bob.email
    members = owner.call("GET", f"/albums/{album}/users").json()
    assert {m["email"] for m in members} == {owner.email, bob.email}


def test_an_address_two_legacy_profiles_show_finds_nobody(stack):
    """Profiles written before e-mails were unique (bob stored alice's address): the migration
    claims only addresses one profile holds, and `find_user` never picks among the others."""
    from devstack.in_process import service_layer

    alice = Person(stack, "Alice Legacy")
    bob = Person(stack, "Bob Legacy")
    carol = Person(stack, "Carol Legacy")
    subs = {p: p.register().json()["sub"] for p in (alice, bob, carol)}
    with service_layer(stack):
        from chalicelib.services import users
        from chalicelib.store import migrations
        from chalicelib.store.models import EmailClaim, UserProfile

        for person in (alice, bob, carol):  # as before claims existed
            EmailClaim(*EmailClaim.key(person.email)).delete()
        UserProfile(*UserProfile.key(subs[bob])).update(actions=[
            UserProfile.email.set(alice.email), UserProfile.email_lower.set(alice.email.lower())])
        claimed, ambiguous = migrations.claim_emails()
        assert alice.email.lower() in ambiguous and claimed >= 1
        assert users.find_user(carol.email).sub == subs[carol]
        with pytest.raises(users.UserNotFound):
            users.find_user(alice.email)
    assert lookup(carol, alice.email).status_code == 204
    assert lookup(alice, carol.email).json()["sub"] == subs[carol]
