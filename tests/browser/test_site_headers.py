"""The static sites refuse to be framed and carry their Content-Security-Policy on every response
(devstack/site_headers.py; CloudFront sends the same in AWS)."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


class _FramingSite(BaseHTTPRequestHandler):
    """Another local site (same-site: 127.0.0.1) that frames the signed-in web app."""

    def do_GET(self):  # noqa: N802 - http.server's naming
        body = (f'<!doctype html><title>framing</title><iframe id="victim" src="{self.server.target}" '
                'width="1000" height="700"></iframe>').encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


@pytest.mark.parametrize("path", ["/", "/albums/x", "/studies/1.2.840.1", "/js/main.js", "/app.css", "/config.json",
                                  "/missing.txt"])
def test_every_web_app_response_forbids_framing(web_app, stack, path):
    headers = requests.get(web_app + path, headers={"Accept": "text/html"}, timeout=10).headers
    assert headers["X-Frame-Options"] == "DENY"
    policy = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "script-src 'self';" in policy, "no inline or foreign script"
    connect = next(d for d in policy.split(";") if d.strip().startswith("connect-src"))
    assert stack.public_url in connect and stack.emulator_url in connect, "the API and the identity provider"


def test_a_page_of_another_site_cannot_frame_the_signed_in_web_app(sign_in, web_app, shoot):
    alice = sign_in("alice")  # signed in: a framed app would act as alice
    violations = []
    alice.on("console", lambda message: violations.append(message.text)
             if "Content Security Policy" in message.text and "frame-ancestors" not in message.text else None)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FramingSite)
    server.target = web_app + "/albums"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        alice.goto(f"http://127.0.0.1:{server.server_port}/")  # returns after the load event, frames included
        framed = next(f for f in alice.frames if f != alice.main_frame)
        assert not framed.url.startswith(web_app), f"the web app loaded in the frame ({framed.url})"
        expect(alice.frame_locator("#victim").get_by_role("button", name="Sign out")).to_have_count(0)
        shoot(alice, "framing-refused")
        # the app itself works under its policy: no violation while it runs
        alice.goto(web_app + "/albums")
        expect(alice.get_by_role("button", name="Sign out")).to_be_visible()
        expect(alice.get_by_role("heading", name="Albums")).to_be_visible()
        assert violations == []
    finally:
        server.shutdown()
