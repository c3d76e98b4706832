"""OHIF launched securely from Obelisk renders alice's images, and no code or token stays in the
viewer's URL (kheops-api.md 5.8, done with OpenID Connect and PKCE)."""
from __future__ import annotations

import html
import io

import pytest
from PIL import Image, ImageStat

pytestmark = pytest.mark.browser


def launch_form(api_url: str, token: str, study_uid: str) -> str:
    """What the web app renders to open OHIF: a form POSTed top-level (the token is in the body)."""
    return (f'<form id="launch" method="post" action="{api_url}/viewer/launch">'
            f'<input type="hidden" name="access_token" value="{html.escape(token)}">'
            f'<input type="hidden" name="studyUID" value="{study_uid}">'
            f'<input type="hidden" name="source_type" value="inbox"></form>'
            '<script>document.getElementById("launch").submit()</script>')


def test_ohif_opens_alices_study_with_no_secret_in_its_url(stack, tokens, ct_study, ohif_site, browser, screenshot_dir):
    token = tokens("alice")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{stack.api_url}/liveness")
    page.set_content(launch_form(stack.api_url, token, str(ct_study.StudyInstanceUID)))
    page.wait_for_url(f"{ohif_site}/viewer**", timeout=60_000)
    page.wait_for_selector("canvas", timeout=60_000)
    page.wait_for_timeout(8_000)  # let the frames arrive and render
    shot = page.screenshot(path=str(screenshot_dir / "ohif-viewer.png"))
    final_url = page.url
    context.close()

    assert "code=" not in final_url and "access_token" not in final_url and token not in final_url
    assert str(ct_study.StudyInstanceUID) in final_url
    viewport = Image.open(io.BytesIO(shot)).convert("L").crop((400, 150, 1200, 750))
    assert ImageStat.Stat(viewport).stddev[0] > 10, "the viewport looks blank"


def test_authorize_without_a_launch_sends_the_viewer_back_with_an_error(stack, ohif_site, browser):
    from chalicelib.auth import pkce

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
