"""Shared fixtures. The local stack fixture starts real processes: a moto emulator and the API,
on free ports, with data in a temporary folder. It never uses a running `make run`."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devstack.stack import LocalStack, free_port  # noqa: E402

# Webhook timings shortened so that retries and the new_series quiet period fit in a test run;
# a short visibility timeout lets a killed worker's messages come back within seconds. The pollers'
# long poll adds no latency (a message sent wakes it at once, and moto rechecks delayed or
# re-visible ones every second), so it waits 5 s: an idle stack then costs ~1.4% of a core instead of
# ~5.7% at 1 s (measured, docs/testing.md).
TEST_STACK_ENV = {
    "OBELISK_WEBHOOK_RETRY_DELAYS": "2,2,2,2",
    "OBELISK_WEBHOOK_DEBOUNCE_SECONDS": "20",
    "OBELISK_OUTBOUND_TIMEOUT_SECONDS": "2",
}
TEST_POLLER_ARGS = ["--visibility-timeout", "8", "--wait-seconds", "5"]
DELAYED_ACK_SECONDS = 0.040  # Linux's shortest delayed acknowledgement (TCP_DELACK_MIN)


def kept_alive_wait(url: str, headers: dict | None = None, times: int = 15) -> float:
    """How much longer the fastest of `times` GETs of `url` on one kept-alive connection takes than
    the fastest on fresh connections, sent in turns so that both meet the same load. A server
    that sends an answer in two writes with Nagle's algorithm on adds the client's delayed
    acknowledgement (40 ms) to the first only: fresh connections acknowledge at once."""
    import http.client
    from urllib.parse import urlsplit

    address = urlsplit(url)
    target = address.path + (f"?{address.query}" if address.query else "")

    def timed(connection) -> float:
        started = time.perf_counter()
        connection.request("GET", target, headers=headers or {})
        connection.getresponse().read()
        return time.perf_counter() - started

    kept = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    timed(kept)  # the connection's first answer is acknowledged at once
    on_kept, on_fresh = [], []
    for _ in range(times):
        on_kept.append(timed(kept))
        fresh = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
        on_fresh.append(timed(fresh))
        fresh.close()
    kept.close()
    return min(on_kept) - min(on_fresh)


def running_stack(tmp_path_factory, name: str = "stack"):
    """Yields a started test stack on free ports, data in a fresh temporary folder; stops it after."""
    ohif_url = f"http://127.0.0.1:{free_port()}"  # where a browser test may serve OHIF
    web_url = f"http://127.0.0.1:{free_port()}"  # and the web app, the one origin launches are accepted from
    local = LocalStack(tmp_path_factory.mktemp(name), emulator_port=0, api_port=0, persist=False,
                       extra_env={**TEST_STACK_ENV, "OBELISK_OHIF_URL": ohif_url, "OBELISK_WEB_URL": web_url},
                       poller_args=TEST_POLLER_ARGS)
    local.ohif_url, local.web_url = ohif_url, web_url
    try:
        local.start()
        yield local
    finally:
        local.stop()


def running_public_stack(tmp_path_factory, name: str):
    """Yields a started test stack with a public origin, as `make run` starts it: the web app's
    server forwards `/api/*` and the bucket's read prefixes (devstack/static_site.py); stops it after."""
    local = LocalStack(tmp_path_factory.mktemp(name), emulator_port=0, api_port=0, web_port=0, persist=False,
                       extra_env=dict(TEST_STACK_ENV), poller_args=TEST_POLLER_ARGS)
    try:
        local.start()
        yield local
    finally:
        local.stop()


def running_quiet_stack(tmp_path_factory, name: str):
    """Yields a started stack of its own, its event functions stopped, so that the AWS calls its
    emulator counts are the API's alone; stops it after."""
    local = LocalStack(tmp_path_factory.mktemp(name), emulator_port=0, api_port=0, persist=False)
    try:
        local.start()
        local.kill_pollers()
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    yield from running_stack(tmp_path_factory)


def token_cache(stack):
    """`token(user)`: one access token per demo user of that stack."""
    cache: dict[str, str] = {}

    def token(user: str) -> str:
        if user not in cache:
            cache[user] = stack.token(user)
        return cache[user]

    return token


@pytest.fixture(scope="session")
def tokens(stack):
    return token_cache(stack)


@pytest.fixture
def api(stack, tokens):
    """`api(user)` is a requests session for that demo user; `api(None)` is anonymous."""

    def session(user: str | None) -> requests.Session:
        s = requests.Session()
        if user:
            s.headers["Authorization"] = f"Bearer {tokens(user)}"
        return s

    return session


CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-unsafe-swiftshader",  # software WebGL, which OHIF's viewports need headless
]
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def browser():
    """A real headless Debian Chromium driven by Playwright (never a downloaded browser build)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def screenshot_dir():
    """Where browser tests keep their screenshots (a CI artefact)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
