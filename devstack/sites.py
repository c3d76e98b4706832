"""The static sites of the local platform: the web app (3000) and OHIF (3001)."""
from __future__ import annotations

from devstack.stack import ROOT, LocalStack, wait_for
from web.build import password_auth, write_config

WEB_PORT, OHIF_PORT = 3000, 3001
SITES = {
    "web app": (ROOT / "web" / "dist", WEB_PORT, False),
    "OHIF viewer": (ROOT / "ohif" / "dist", OHIF_PORT, True),
}


def configure_web_app(stack: LocalStack) -> None:
    """The local config.json: this stack's API and the emulator's user pool for the sign-in form."""
    write_config(SITES["web app"][0], stack.api_url,
                 password_auth(stack.emulator_url, stack.identity["client_id"]), f"http://127.0.0.1:{OHIF_PORT}")


def start_sites(stack: LocalStack) -> dict[str, str]:
    started = {}
    for name, (directory, port, isolated) in SITES.items():
        if not (directory / "index.html").exists():
            started[name] = f"(not built: {directory.relative_to(ROOT)} is missing)"
            continue
        if name == "web app":
            configure_web_app(stack)
        args = ["devstack.static_site", "--directory", str(directory), "--port", str(port),
                "--storage-url", stack.emulator_url]
        if isolated:
            args.append("--cross-origin-isolated")
        process = stack._spawn(name.replace(" ", "-"), args)
        wait_for(f"http://127.0.0.1:{port}/", process=process)
        started[name] = f"http://127.0.0.1:{port}/"
    return started
