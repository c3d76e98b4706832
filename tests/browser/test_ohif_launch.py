"""OHIF launched securely from Obelisk renders alice's images, and no code or token stays in the
viewer's URL (docs/kheops-compatibility.md §11, done with OpenID Connect and PKCE)."""
from __future__ import annotations

import html
import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pydicom
import pytest
import requests
from PIL import Image, ImageStat
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from tests.browser.conftest import SUBMIT_FROM_PAGE
from tests.dicomweb_session import DICOMwebClient

pytestmark = pytest.mark.browser


def launch_form(api_url: str, token: str, study_uid: str) -> str:
    """What the web app renders to open OHIF: a form POSTed top-level (the token is in the body)."""
    return (f'<form id="launch" method="post" action="{api_url}/viewer/launch">'
            f'<input type="hidden" name="access_token" value="{html.escape(token)}">'
            f'<input type="hidden" name="studyUID" value="{study_uid}">'
            f'<input type="hidden" name="source_type" value="inbox"></form>'
            '<script>document.getElementById("launch").submit()</script>')




def launch_from_web_app(page, web_app: str, api_url: str, token: str, study_uid: str) -> None:
    """The launch as the web app's `launch.js` makes it: a form POSTed from the web app's origin."""
    page.goto(web_app + "/")
    page.evaluate(SUBMIT_FROM_PAGE, [f"{api_url}/viewer/launch",
                                     {"access_token": token, "studyUID": study_uid, "source_type": "inbox"}])


class _ForeignSite(BaseHTTPRequestHandler):
    """Another site's page that auto-submits its own (bob's) token to the viewer launch."""

    def do_GET(self):  # noqa: N802 - http.server's naming
        body = self.server.page.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


def test_ohif_opens_alices_study_with_no_secret_in_its_url(stack, tokens, ct_study, ohif_site, web_app, browser,
                                                           screenshot_dir):
    token = tokens("alice")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    refused = []  # what the sites' Content-Security-Policy blocked (devstack/site_headers.py)
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    launch_from_web_app(page, web_app, stack.api_url, token, str(ct_study.StudyInstanceUID))
    page.wait_for_url(f"{ohif_site}/viewer**", timeout=60_000)
    page.wait_for_selector("canvas", timeout=60_000)
    badge = page.locator("#obelisk-signed-in")
    badge.wait_for(timeout=15_000)
    assert badge.inner_text() == "Signed in as alice@example.org", "OHIF shows who is signed in"
    page.wait_for_timeout(8_000)  # let the frames arrive and render
    shot = page.screenshot(path=str(screenshot_dir / "ohif-viewer.png"))
    final_url = page.url
    context.close()

    assert refused == [], "OHIF runs under its policy without a refusal"
    assert "code=" not in final_url and "access_token" not in final_url and token not in final_url
    assert str(ct_study.StudyInstanceUID) in final_url
    viewport = Image.open(io.BytesIO(shot)).convert("L").crop((400, 150, 1200, 750))
    assert ImageStat.Stat(viewport).stddev[0] > 10, "the viewport looks blank"


def test_a_launch_submitted_by_another_site_is_refused(stack, tokens, ct_study, ohif_site, web_app, browser):
    """Login CSRF: a foreign page auto-submits bob's token for bob's study; alice's browser must not
    open OHIF signed in as bob."""
    bobs = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    bobs.StudyInstanceUID, bobs.SeriesInstanceUID, bobs.SOPInstanceUID = generate_uid(), generate_uid(), generate_uid()
    DICOMwebClient(stack.api_url, headers={"Authorization": f"Bearer {tokens('bob')}"}).store_instances([bobs])
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ForeignSite)
    server.page = launch_form(stack.api_url, tokens("bob"), str(bobs.StudyInstanceUID))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    context = browser.new_context()
    try:
        page = context.new_page()
        with page.expect_response(lambda r: r.url.endswith("/viewer/launch")) as launched:
            page.goto(f"http://127.0.0.1:{server.server_port}/")
        assert launched.value.status == 403
        assert launched.value.json()["detail"] == "launches are accepted only from the Obelisk web app"
        assert "set-cookie" not in launched.value.headers, "no launch ticket"
        assert not page.url.startswith(ohif_site)
        # the same form from the web app's own origin still launches
        launch_from_web_app(page, web_app, stack.api_url, tokens("alice"), str(ct_study.StudyInstanceUID))
        page.wait_for_url(f"{ohif_site}/**", timeout=60_000)
    finally:
        context.close()
        server.shutdown()


def test_authorize_without_a_launch_sends_the_viewer_back_with_an_error(stack, ohif_site, browser):
    from chalicelib.oauth import pkce

    page = browser.new_page()
    challenge = pkce.challenge_of("v" * 43)
    response = page.request.get(
        f"{stack.api_url}/authorize?response_type=code&client_id=ohif&redirect_uri={ohif_site}/callback"
        f"&state=s&code_challenge={challenge}&code_challenge_method=S256", max_redirects=0)
    assert response.status == 302
    assert "error=login_required" in response.headers["location"]
    evil = page.request.get(
        f"{stack.api_url}/authorize?response_type=code&client_id=ohif&redirect_uri=https://evil.example/cb"
        f"&code_challenge={challenge}&code_challenge_method=S256", max_redirects=0)
    assert evil.status == 400
    page.close()


@pytest.mark.parametrize("path", ["/", "/viewer?StudyInstanceUIDs=1.2", "/app-config.js", "/callback"])
def test_every_ohif_response_forbids_framing_and_carries_its_policy(stack, ohif_site, path):
    """The policy under which the viewer above rendered: no framing, scripts only from the site
    (inline start-up scripts by hash), data only from the site and the API."""
    headers = requests.get(ohif_site + path, headers={"Accept": "text/html"}, timeout=10).headers
    assert headers["X-Frame-Options"] == "DENY"
    policy = {d.strip().split(" ")[0]: d.strip() for d in headers["Content-Security-Policy"].split(";")}
    assert policy["frame-ancestors"] == "frame-ancestors 'none'"
    assert "'unsafe-inline'" not in policy["script-src"] and "'sha256-" in policy["script-src"]
    assert policy["connect-src"].split()[1:3] == ["'self'", stack.public_url]
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
