"""The static sites of the local platform: the web app (3000) and OHIF (3001)."""
from __future__ import annotations

from devstack.stack import ROOT, LocalStack, wait_for

SITES = {
    "web app": (ROOT / "web" / "dist", 3000, False),
    "OHIF viewer": (ROOT / "ohif" / "dist", 3001, True),
}


def start_sites(stack: LocalStack) -> dict[str, str]:
    started = {}
    for name, (directory, port, isolated) in SITES.items():
        if not (directory / "index.html").exists():
            started[name] = f"(not built: {directory.relative_to(ROOT)} is missing)"
            continue
        args = ["devstack.static_site", "--directory", str(directory), "--port", str(port)]
        if isolated:
            args.append("--cross-origin-isolated")
        process = stack._spawn(name.replace(" ", "-"), args)
        wait_for(f"http://127.0.0.1:{port}/", process=process)
        started[name] = f"http://127.0.0.1:{port}/"
    return started
