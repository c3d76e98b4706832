"""Every API request leaves one log record with the kind of caller (never who), the route and the
status, as fields the Lambda runtime's JSON log format carries next to the request id."""
from __future__ import annotations

import logging
from types import SimpleNamespace

from chalice import Chalice
from chalice.test import Client

from chalicelib.api import access_log


def app_with_routes() -> Chalice:
    app = Chalice(app_name="access-log")
    app.register_middleware(access_log.middleware, "http")

    @app.route("/albums/{album}")
    def album(album):
        app.current_request._obelisk_principal = SimpleNamespace(kind="album_capability", sub="secret-sub")
        return {"album": album}

    @app.route("/liveness")
    def liveness():
        return {}

    return app


def test_each_request_logs_route_status_and_principal_kind(caplog):
    caplog.set_level(logging.INFO, logger="obelisk.access")
    with Client(app_with_routes()) as client:
        client.http.get("/albums/a1")
        client.http.get("/liveness")
    first, second = [r for r in caplog.records if r.name == "obelisk.access"]
    assert (first.method, first.route, first.status, first.principal_kind) == \
           ("GET", "/albums/{album}", 200, "album_capability")
    assert second.principal_kind == "anonymous"
    assert "secret-sub" not in first.getMessage() and not hasattr(first, "sub")
