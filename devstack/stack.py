"""Starts and stops the processes of the local platform. `make run` and the test suite share it."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from devstack import bootstrap, reporting

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 60.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {process.returncode}")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


@dataclass
class LocalStack:
    """One local platform: emulator, resources, API. Ports of 0 pick free ones.

    With a `web_port`, the platform has one public origin as a deployment does (CloudFront routes
    `/api/*` to API Gateway and the rest to the site bucket): the web app's server on that port also
    forwards `/api/*` to the API (`devstack/static_site.py`), and every URL Obelisk writes (QIDO
    retrieve URLs, report providers' `conf_uri` and `return_uri`, OHIF's redirect) is on it. The
    same server forwards the bucket's read prefixes to the emulator, as CloudFront forwards them to
    the bucket, and the API's redirects to pixel data point there (docs/dicomweb.md, "Which URL").
    The API still answers on its own port, its redirects on the public origin too."""

    data_dir: Path
    emulator_port: int = 4566
    s3_port: int | None = None  # the S3 emulator's (devstack/s3_sibling.py): the one after the emulator's, or a free one
    api_port: int = 8000
    web_port: int | None = None
    web_root: Path = ROOT / "web" / "dist"
    stage: str = "local"
    persist: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)
    poller_args: list[str] = field(default_factory=list)
    processes: list[subprocess.Popen] = field(default_factory=list)
    identity: dict[str, str] = field(default_factory=dict)
    pollers: subprocess.Popen | None = None

    @property
    def emulator_url(self) -> str:
        """The emulator every service is reached at (S3 requests are forwarded to S3's own)."""
        return f"http://127.0.0.1:{self.emulator_port}"

    @property
    def s3_url(self) -> str:
        """S3's emulator, which the API and the event functions reach directly (`AWS_ENDPOINT_URL_S3`)."""
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def public_url(self) -> str:
        """The origin clients use: the web app's (single origin) when there is one, else the API's."""
        return f"http://127.0.0.1:{self.web_port or self.api_port}"

    @property
    def api_url(self) -> str:
        return self.public_url + "/api"

    @property
    def storage_origin(self) -> str:
        """The DICOM bucket as the public origin reaches it: virtual-hosted on the emulator
        (`{bucket}.localhost`, as CloudFront's origin is `{bucket}.s3.{region}.amazonaws.com`)."""
        bucket = self.extra_env.get("OBELISK_DICOM_BUCKET") or f"obelisk-{self.stage}-dicom"
        return f"http://{bucket}.localhost:{self.s3_port}"

    @property
    def direct_api_url(self) -> str:
        """The API on its own port (what the single origin forwards `/api/*` to)."""
        return f"http://127.0.0.1:{self.api_port}/api"

    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / f"{name}.log", "ab")
        process = subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def api_environment(self) -> dict[str, str]:
        return {
            "OBELISK_STAGE": self.stage,
            "OBELISK_PUBLIC_URL": self.public_url,
            "OBELISK_WEB_URL": self.public_url,
            "AWS_ENDPOINT_URL": self.emulator_url,
            "AWS_ENDPOINT_URL_S3": self.s3_url,  # botocore's endpoint for one service, as on AWS
            "AWS_DEFAULT_REGION": bootstrap.REGION,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "OIDC_ISSUER": self.identity["issuer"],
            "OIDC_DISCOVERY_URL": self.identity["discovery_url"],
            "OIDC_CLIENT_IDS": self.identity["client_id"],
            "OBELISK_OUTBOUND_ALLOWLIST": "127.0.0.0/8",
            "OBELISK_ADMINS": bootstrap.demo_email(reporting.OBELISK_ADMIN),
            "PYTHONDONTWRITEBYTECODE": "",
            # With a public origin, reads are redirected to it (`start_front_door`).
            **({"OBELISK_PUBLIC_STORAGE_ENDPOINT": f"http://localhost:{self.s3_port}"} if self.web_port else {}),
            **self.extra_env,
        }

    def start(self) -> LocalStack:
        self.s3_port = self.s3_port or (self.emulator_port + 1 if self.emulator_port else free_port())
        self.emulator_port = self.emulator_port or free_port()
        self.api_port = self.api_port or free_port()
        if self.web_port == 0:
            self.web_port = free_port()
        state = str(self.data_dir / "emulator.pickle") if self.persist else ""
        kept = bool(state) and Path(state).exists()
        s3 = self._spawn("emulator-s3", ["devstack.emulator", "--s3-only", "--port", str(self.s3_port),
                                         "--state", state.replace(".pickle", "-s3.pickle"),
                                         "--queues-endpoint", self.emulator_url])
        emulator = self._spawn(
            "emulator", ["devstack.emulator", "--port", str(self.emulator_port), "--state", state,
                         "--s3-endpoint", self.s3_url]
        )
        wait_for(self.s3_url + "/_emulator/calls", process=s3)
        wait_for(self.emulator_url + "/_emulator/calls", process=emulator)
        self.identity = bootstrap.bootstrap(self.emulator_url, self.stage)
        reporting.ensure_demo_site(self.emulator_url, self.stage)
        if kept:  # an emulator started empty has nothing to migrate or purge (3-8 s of a start)
            # Locally, orphans are purged at every start (docs/deploy.md: on AWS the operator asks for it).
            subprocess.run([sys.executable, "-m", "chalicelib.store.migrations", "--purge-orphans"],
                           env=self.api_environment(), cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        api = self._spawn(
            "api",
            ["devstack.api_server", "--port", str(self.api_port), "--stage", self.stage],
            self.api_environment(),
        )
        wait_for(self.direct_api_url + "/liveness", process=api)
        if self.web_port:
            self.start_front_door()
        self.start_pollers()
        self.write_description()
        return self

    def start_front_door(self) -> subprocess.Popen:
        """The web app's server on the public origin, forwarding `/api/*` to the API and the
        bucket's read prefixes to the bucket."""
        self.web_root.mkdir(parents=True, exist_ok=True)
        site = self._spawn("web-app", ["devstack.static_site", "--directory", str(self.web_root),
                                       "--port", str(self.web_port), "--api-proxy", self.direct_api_url,
                                       "--storage-origin", self.storage_origin, "--storage-url", self.s3_url])
        wait_for(self.api_url + "/liveness", process=site)
        return site

    def start_pollers(self) -> subprocess.Popen:
        """The app's SQS event functions (webhook fan-out and delivery, ...), in one process."""
        self.pollers = self._spawn("pollers", ["devstack.pollers", "--stage", self.stage, *self.poller_args],
                                   self.api_environment())
        return self.pollers

    def kill_pollers(self) -> None:
        """Kills the event functions at once (SIGKILL), as a crashed Lambda would stop."""
        self.pollers.kill()
        self.pollers.wait(timeout=15)
        self.processes.remove(self.pollers)

    def write_description(self) -> None:
        description = {
            "api_url": self.api_url,
            "emulator_url": self.emulator_url,
            "s3_url": self.s3_url,
            **self.identity,
        }
        (self.data_dir / "stack.json").write_text(json.dumps(description, indent=2))

    def token(self, user: str, password: str | None = None) -> str:
        return bootstrap.sign_in(self.emulator_url, self.identity["client_id"], user, password)

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in reversed(self.processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()
