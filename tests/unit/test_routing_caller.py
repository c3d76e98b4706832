"""`routing.route()` hands a view that asks for `caller` the request's principal, resolved once and
before the view reads anything, so an unauthenticated request answers 401 whatever it sent."""
from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

import pytest
from chalice import Blueprint, Chalice
from chalice.test import Client

from chalicelib.api import routing
from chalicelib.errors import Unauthenticated


@pytest.fixture
def resolved(monkeypatch) -> list[str]:
    """Each authentication made: the bearer token `alice` is alice, anything else is refused."""
    seen: list[str] = []

    def authenticate(headers, link_token):
        seen.append(headers.get("authorization", ""))
        if headers.get("authorization") != "Bearer alice":
            raise Unauthenticated("no valid credentials")
        return SimpleNamespace(sub="alice")

    monkeypatch.setattr(routing, "authenticate", authenticate)
    return seen


def app_with_routes() -> Chalice:
    app = Chalice(app_name="routing-caller")
    bp = Blueprint(__name__)

    @routing.route(bp, "/albums/{album}/things", methods=["GET"])
    def list_things(caller, album):
        limit, _ = routing.paging(bp.current_request)
        return {"sub": caller.sub, "album": album, "limit": limit,
                "same": routing.principal(bp.current_request) is caller}

    @routing.route(bp, "/public", methods=["GET"])
    def public():
        return {"public": True}

    app.register_blueprint(bp)
    return app


def test_a_view_asking_for_its_caller_gets_it_resolved_once(resolved):
    with Client(app_with_routes()) as client:
        answer = client.http.get("/albums/a1/things?limit=2", headers={"Authorization": "Bearer alice"})
        linked = client.http.get("/link/t/albums/a1/things", headers={"Authorization": "Bearer alice"})
    assert answer.status_code == 200 and answer.json_body == {"sub": "alice", "album": "a1", "limit": 2, "same": True}
    assert linked.status_code == 200 and linked.json_body["album"] == "a1"
    assert resolved == ["Bearer alice", "Bearer alice"]  # one authentication per request


def test_an_unauthenticated_request_is_refused_before_its_query_is_read(resolved):
    with Client(app_with_routes()) as client:
        anonymous = client.http.get("/albums/a1/things?limit=none")
        signed_in = client.http.get("/albums/a1/things?limit=none", headers={"Authorization": "Bearer alice"})
    assert anonymous.status_code == 401 and anonymous.body == b""
    assert signed_in.status_code == 400 and signed_in.json_body["message"]


def test_a_view_that_does_not_ask_for_a_caller_is_not_authenticated(resolved):
    with Client(app_with_routes()) as client:
        answer = client.http.get("/public")
    assert answer.status_code == 200 and resolved == []


def _principal_calls() -> list[str]:
    """Calls of `principal(...)` / `routing.principal(...)` in the views (`routing.py` aside)."""
    api = Path(routing.__file__).parent
    found = []
    for path in sorted(api.glob("*.py")):
        if path.name == "routing.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and ast.unparse(node.func).split(".")[-1] == "principal":
                found.append(f"{path.name}:{node.lineno}")
    return found


def test_views_take_their_caller_from_route_and_never_resolve_it_themselves():
    assert _principal_calls() == []
