"""The static sites of the local platform: the web app (3000, the public origin: it also forwards
`/api/*` to the API, see `LocalStack.start_front_door`) and OHIF (3001)."""
from __future__ import annotations

from devstack.stack import ROOT, LocalStack, wait_for
from web.build import password_auth, write_config

WEB_PORT, OHIF_PORT = 3000, 3001
WEB_DIST, OHIF_DIST = ROOT / "web" / "dist", ROOT / "ohif" / "dist"


def configure_web_app(stack: LocalStack) -> None:
    """The local config.json: this stack's API and the emulator's user pool for the sign-in form."""
    write_config(stack.web_root, stack.api_url,
                 password_auth(stack.emulator_url, stack.identity["client_id"]), f"http://127.0.0.1:{OHIF_PORT}")


def start_sites(stack: LocalStack) -> dict[str, str]:
    """The web app is already served by the stack's front door; OHIF is started here."""
    started = {}
    if (stack.web_root / "index.html").exists():
        configure_web_app(stack)
        started["web app"] = stack.public_url + "/"
    else:
        started["web app"] = f"(not built: {stack.web_root.relative_to(ROOT)} is missing; /api is served there)"
    if not (OHIF_DIST / "index.html").exists():
        started["OHIF viewer"] = f"(not built: {OHIF_DIST.relative_to(ROOT)} is missing)"
        return started
    process = stack._spawn("OHIF-viewer", ["devstack.static_site", "--directory", str(OHIF_DIST),
                                           "--port", str(OHIF_PORT), "--cross-origin-isolated",
                                           "--storage-url", stack.s3_url])
    wait_for(f"http://127.0.0.1:{OHIF_PORT}/", process=process)
    started["OHIF viewer"] = f"http://127.0.0.1:{OHIF_PORT}/"
    return started
