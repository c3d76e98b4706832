"""The local static sites (`devstack/static_site.py`) send the headers of the site as it is now
configured: `make run` builds the web app (a `config.json` without sign-in), starts its server,
then writes the `config.json` naming the emulator's sign-in endpoint; the Content-Security-Policy
must name it from then on (round 18's F1: sign-in blocked by the policy)."""
from __future__ import annotations

import json
import subprocess
import sys

import requests

from devstack.stack import ROOT, free_port, wait_for
from web.build import write_config


def _csp(url: str) -> str:
    return requests.get(url, timeout=10).headers["Content-Security-Policy"]


def test_the_policy_follows_the_config_written_after_the_server_started(tmp_path):
    (tmp_path / "index.html").write_text("<!doctype html><title>app</title>")
    write_config(tmp_path, "http://127.0.0.1:3000/api", None)  # as `make web` leaves it
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "devstack.static_site", "--directory", str(tmp_path),
                               "--port", str(port), "--storage-url", "http://127.0.0.1:4567"],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_for(url, process=server)
        before = _csp(url)
        assert "http://127.0.0.1:4567" in before and "http://127.0.0.1:4566" not in before
        write_config(tmp_path, "http://127.0.0.1:3000/api",
                     {"mode": "password", "cognito_endpoint": "http://127.0.0.1:4566", "client_id": "c"})
        assert json.loads((tmp_path / "config.json").read_text())["auth"]["mode"] == "password"
        connect = next(d for d in _csp(url).split(";") if d.strip().startswith("connect-src"))
        assert "http://127.0.0.1:4566" in connect and "http://127.0.0.1:4567" in connect
    finally:
        server.terminate()
        server.wait(timeout=15)
