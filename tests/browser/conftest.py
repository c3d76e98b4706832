"""Browser-test fixtures: the built web app served on a free port against the test stack's API,
a signed-in page per demo user, OHIF served for the secure launch, screenshots kept under
`test-artifacts/browser/`, and a probe of which API routes exist (screens whose API has not landed
yet are skipped, not faked)."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pydicom
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from playwright.sync_api import expect
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from devstack import bootstrap, ohif
from devstack.stack import ROOT, free_port, wait_for
from tests.browser.hosted_ui import HostedUI
from tests.conftest import running_stack, token_cache
from tests.dicomweb_session import DICOMwebClient
from web.build import build_site, oidc_auth, password_auth

STUDY_ATTRIBUTES = {"StudyDate": "20240115", "StudyTime": "101500", "AccessionNumber": "ACC-WEB",
                    "PatientBirthDate": "19700101", "PatientSex": "O", "StudyID": "1",
                    "ReferringPhysicianName": "WHO^KNOWS"}
SHOTS = ROOT / "test-artifacts" / "browser"
expect.set_options(timeout=15_000)  # the machine is shared: API answers can take seconds under load


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """The browser tests' own stack. Their screens list alice's inbox a page (20 studies) at a time,
    newest first, and look for what they uploaded there: studies the integration files put in a
    shared stack (pytest-xdist runs them on the same worker, before or after) pushed a 2004 study
    off the first page."""
    yield from running_stack(tmp_path_factory, "browser-stack")


@pytest.fixture(scope="session")
def tokens(stack):
    """Tokens of the browser tests' stack (a token of another stack's identity provider is refused)."""
    return token_cache(stack)


def _serve(stack, folder: Path, name: str, port: int | None = None):
    port = port or free_port()
    log = open(stack.data_dir / f"{name}.log", "ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.static_site", "--directory", str(folder), "--port", str(port),
         "--storage-url", stack.s3_url],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(f"http://127.0.0.1:{port}/", process=process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def web_app(stack, tmp_path_factory):
    """The web app, built into a temporary folder with this stack's config.json, on the port the
    stack accepts launches from (`OBELISK_WEB_URL`)."""
    site = build_site(tmp_path_factory.mktemp("web") / "dist", stack.api_url,
                      password_auth(stack.emulator_url, stack.identity["client_id"]),
                      ohif_url=stack.ohif_url)
    yield from _serve(stack, site, "web-app", urlsplit(stack.web_url).port)


@pytest.fixture(scope="session")
def hosted_ui(stack):
    """The OpenID provider's hosted sign-in pages (Cognito's hosted UI in AWS)."""
    server = HostedUI(stack.emulator_url, stack.identity["client_id"]).start()
    try:
        yield server
    finally:
        server.shutdown()


@pytest.fixture(scope="session")
def oidc_web_app(stack, hosted_ui, tmp_path_factory):
    """The web app built as for AWS: authorization code + PKCE at the hosted UI."""
    auth = oidc_auth(hosted_ui.url + "/oauth2/authorize", hosted_ui.url + "/oauth2/token",
                     stack.identity["client_id"], hosted_ui.url + "/logout")
    site = build_site(tmp_path_factory.mktemp("web-oidc") / "dist", stack.api_url, auth)
    yield from _serve(stack, site, "web-app-oidc")


@pytest.fixture
def shoot():
    """`shoot(page, name)` keeps a full-page screenshot as a test artefact."""
    SHOTS.mkdir(parents=True, exist_ok=True)

    def shot(page, name: str) -> Path:
        path = SHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return shot


@pytest.fixture
def sign_in(browser, web_app):
    """`sign_in(user)` opens a fresh browser context and signs that demo user in with the form.
    Whatever the site's Content-Security-Policy refuses on these pages fails the test."""
    contexts = []
    refused: list[str] = []

    def open_page(user: str):
        context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda m: refused.append(m.text)
                if "Content Security Policy" in m.text and "frame-ancestors" not in m.text else None)
        page.goto(web_app + "/")
        page.get_by_label("User name").fill(user)
        page.get_by_label("Password").fill(bootstrap.demo_password(user))
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("button", name="Sign out").wait_for()
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert refused == [], "the web app ran into its Content-Security-Policy"


@pytest.fixture(scope="session")
def api_supports(stack):
    """Whether the API has a route: its CORS preflight lists the method (chalice answers every
    registered route's OPTIONS; an unknown path gets no Allow-Methods)."""

    def supports(method: str, path: str) -> bool:
        answer = requests.options(stack.api_url + path, headers={
            "Origin": "http://127.0.0.1", "Access-Control-Request-Method": method}, timeout=10)
        allowed = answer.headers.get("Access-Control-Allow-Methods", "")
        return answer.ok and method in [m.strip() for m in allowed.split(",")]

    return supports


@pytest.fixture
def study_folder(tmp_path):
    """A folder holding a new study (two series, three instances) plus a non-DICOM file, as a
    user would drop it; returns (folder, study uid, patient name)."""
    folder = tmp_path / "upload"
    (folder / "series-ct").mkdir(parents=True)
    (folder / "series-mr").mkdir()
    (folder / "README.txt").write_text("not a DICOM file")
    study_uid = generate_uid()
    patient = f"BROWSER^{study_uid[-6:]}"
    for name, count, sub in (("CT_small.dcm", 2, "series-ct"), ("MR_small.dcm", 1, "series-mr")):
        series_uid = generate_uid()
        for index in range(count):
            dataset = pydicom.dcmread(get_testdata_file(name))
            dataset.StudyInstanceUID = study_uid
            dataset.SeriesInstanceUID = series_uid
            dataset.SOPInstanceUID = generate_uid()
            dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
            dataset.PatientName = patient
            dataset.PatientID = "WEB-" + study_uid[-6:]
            dataset.StudyDescription = "Browser upload"
            dataset.InstanceNumber = index + 1
            for keyword, value in STUDY_ATTRIBUTES.items():
                setattr(dataset, keyword, value)
            dataset.save_as(folder / sub / f"{index}.dcm", enforce_file_format=True)
    return folder, study_uid, patient.replace("^", " ")


class _ReportProvider(BaseHTTPRequestHandler):
    """A report provider's public side: its configuration, JWKS and the page users land on."""

    def do_GET(self):  # noqa: N802 - http.server's naming
        base = f"http://127.0.0.1:{self.server.server_port}"
        documents = {
            "/.well-known/kheops-report-configuration": {
                "redirect_uri": f"{base}/report.html", "response_type": "code", "jwks_uri": f"{base}/certs",
                "token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "RS256",
                "client_name": "Browser test reports"},
            "/certs": {"keys": [self.server.public_jwk]},
        }
        path = self.path.split("?")[0]
        if path in documents:
            body, kind = json.dumps(documents[path]).encode(), "application/json"
        elif path == "/report.html":
            body, kind = b"<!doctype html><title>Report</title><h1>Report provider</h1>", "text/html"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


@pytest.fixture(scope="session")
def report_provider():
    """A report provider on a free loopback port; yields its configuration URL."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ReportProvider)
    server.public_jwk = {**json.loads(RSAAlgorithm.to_jwk(key.public_key())), "kid": "0", "alg": "RS256", "use": "sig"}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/.well-known/kheops-report-configuration"
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def ohif_site(stack, tmp_path_factory):
    """OHIF built against the test stack's API, served where the stack sends launched viewers."""
    dist = ohif.build(stack.api_url, tmp_path_factory.mktemp("ohif") / "dist")
    port = urlsplit(stack.ohif_url).port
    process = subprocess.Popen([sys.executable, "-m", "devstack.static_site", "--directory", str(dist), "--port",
                                str(port), "--cross-origin-isolated", "--storage-url", stack.s3_url],
                               cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        wait_for(stack.ohif_url + "/", process=process)
        yield stack.ohif_url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def ct_study(stack, tokens):
    """pydicom's CT sample in alice's inbox."""
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    DICOMwebClient(stack.api_url, headers={"Authorization": f"Bearer {tokens('alice')}"}).store_instances([dataset])
    return dataset


# A page's script submitting a form, as the web app's launch does (web/src/js/launch.js).
SUBMIT_FROM_PAGE = """([action, fields]) => {
  const form = document.createElement('form');
  form.method = 'POST';
  form.action = action;
  for (const [name, value] of Object.entries(fields)) {
    const input = document.createElement('input');
    input.type = 'hidden'; input.name = name; input.value = value;
    form.append(input);
  }
  document.body.append(form);
  form.submit();
}"""
