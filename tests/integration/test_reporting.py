"""Embeddable reporting: a site admin launches a report link, a host page (a RIS worklist on a free
port, the site's allowed origin) embeds it, the radiologist signs in headless Chromium, and the SR, ORU^R01 and DiagnosticReport follow."""
from __future__ import annotations

import http.server
import threading
import time

import highdicom as hd
import hl7
import pydicom
import pytest
import requests
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from tests.dicomweb_session import DICOMwebClient
from tests.integration.webhook_receiver import wait_until
from tests.support.reporting import HOST_ORIGIN, configure_site, launch, launch_tags


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.received.append((self.headers.get("Content-Type", ""), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


class _HostPage(http.server.BaseHTTPRequestHandler):
    link = ""
    origin = ""

    def do_GET(self):  # noqa: N802
        body = (f'<!doctype html><title>RIS worklist</title><h1>Worklist</h1>'
                f'<iframe id="report" src="{self.link}" width="900" height="700" title="Reporting"></iframe>').encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _serve(handler, port: int) -> http.server.ThreadingHTTPServer:
    http.server.ThreadingHTTPServer.allow_reuse_address = True
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _frame_error_shown(page, seconds: float = 30) -> bool:
    """Whether the page's frame turns to Chromium's error page within `seconds` (polled through
    Playwright's own wait, which lets its events in, unlike a sleep)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if len(page.frames) > 1 and page.frames[1].url.startswith("chrome-error://"):
            return True
        page.wait_for_timeout(100)
    return False


@pytest.fixture(scope="module")
def receiver():
    server = _serve(_Receiver, 0)
    yield f"http://127.0.0.1:{server.server_address[1]}/oru", _Receiver.received
    server.shutdown()


@pytest.fixture(scope="module")
def host_page():
    """The RIS worklist page, on a free port: two test runs on one machine never share it."""
    server = _serve(_HostPage, 0)
    _HostPage.origin = f"http://127.0.0.1:{server.server_address[1]}"
    yield _HostPage
    server.shutdown()


@pytest.fixture(scope="module")
def carol_study(stack, tokens):
    """A CT with fresh UIDs in carol's inbox (the study the radiologist reports on)."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = generate_uid(), generate_uid(), generate_uid()
    ds.AccessionNumber = "ACC-" + ds.StudyInstanceUID[-8:]
    DICOMwebClient(url=stack.api_url, headers={"Authorization": f"Bearer {tokens('carol')}"}).store_instances([ds])
    return ds


def test_demo_site_launches_for_carol_and_relaunch_returns_the_same_report(stack, tokens):
    first = launch(stack, tokens("carol"), launch_tags("demo", "demo-acc-1"))
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "Draft"
    assert first.json()["owner"] == {"name": "testphysician", "email": "physician@example.org"}
    again = launch(stack, tokens("carol"), launch_tags("demo", "demo-acc-1"))
    assert again.json()["reportId"] == first.json()["reportId"]
    assert again.json()["reportLink"] != first.json()["reportLink"]  # a fresh one-time code
    page = requests.get(first.json()["reportLink"], timeout=30)
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    assert csp.split(";")[0] == f"frame-ancestors {HOST_ORIGIN}"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"


def test_launch_refusals_name_the_problem(stack, tokens):
    missing_auth = launch(stack, None, launch_tags("demo", "demo-acc-2"))
    assert missing_auth.status_code == 401 and missing_auth.json()["message"] == "Missing Auth"
    missing_user = launch(stack, tokens("carol"), launch_tags("demo", "demo-acc-2", UserName=None, UserEmail=""))
    assert missing_user.status_code == 400
    assert "UserName" in missing_user.json()["detail"] and "UserEmail" in missing_user.json()["detail"]


def test_unknown_site_and_not_an_admin_answer_alike(stack, tokens):
    """Site names cannot be enumerated: a site the token does not administer and a site that does
    not exist get one status and one body."""
    configure_site(stack, tokens, "alike")
    not_admin = launch(stack, tokens("bob"), launch_tags("alike", "alike-acc"))
    unknown = launch(stack, tokens("carol"), launch_tags("nowhere", "demo-acc-2"))
    unknown_to_bob = launch(stack, tokens("bob"), launch_tags("nowhere", "demo-acc-2"))
    assert not_admin.status_code == unknown.status_code == unknown_to_bob.status_code == 404
    assert not_admin.json() == unknown.json() == unknown_to_bob.json()
    assert not_admin.json()["message"] == "Site Not Found"


def test_only_obelisk_admins_configure_sites(stack, tokens):
    response = requests.put(f"{stack.api_url}/report/sites/bobs", json={"admins": ["bob@example.org"]},
                            headers={"Authorization": f"Bearer {tokens('bob')}"}, timeout=30)
    assert response.status_code == 403


def test_link_past_its_lifetime_is_refused(stack, tokens):
    configure_site(stack, tokens, "short-links", linkSeconds=1)
    link = launch(stack, tokens("carol"), launch_tags("short-links", "exp-1")).json()["reportLink"]
    time.sleep(2.5)
    assert requests.get(link, timeout=30).status_code == 410
    code = link.split("code=")[1]
    assert requests.post(f"{stack.api_url}/report/session", json={"code": code}, timeout=30).status_code == 401


def test_radiologist_signs_in_an_iframe_and_outputs_follow(stack, tokens, browser, screenshot_dir,
                                                           receiver, host_page, carol_study):
    endpoint, received = receiver
    configure_site(stack, tokens, "it-site", endpoint, origins=[host_page.origin])
    study_uid = str(carol_study.StudyInstanceUID)
    launched = launch(stack, tokens("carol"), launch_tags("it-site", carol_study.AccessionNumber, study_uid))
    assert launched.status_code == 200, launched.text
    link, report_id = launched.json()["reportLink"], launched.json()["reportId"]
    host_page.link = link

    page = browser.new_page()
    try:
        page.goto(host_page.origin + "/")
        frame = page.frame_locator("#report")
        frame.locator("#status").filter(has_text="Draft").wait_for(timeout=15000)
        frame.locator("#findings").fill("Liver: 2 cm hypodense lesion in segment 6.")
        frame.locator("#impression").fill("New liver lesion, suspicious for metastasis.")
        frame.locator("#sign").click()
        frame.locator("#status").filter(has_text="Final").wait_for(timeout=30000)
        page.screenshot(path=str(screenshot_dir / "reporting-signed-in-iframe.png"))
        assert "code=" not in page.frames[1].url  # the one-time code left the address bar
    finally:
        page.close()

    # second use of the link: the page and the exchange both refuse
    assert requests.get(link, timeout=30).status_code == 410
    code = link.split("code=")[1]
    assert requests.post(f"{stack.api_url}/report/session", json={"code": code}, timeout=30).status_code == 401

    client = DICOMwebClient(url=stack.api_url, headers={"Authorization": f"Bearer {tokens('carol')}"})
    sr_series = [s for s in client.search_for_series(study_uid) if s["00080060"]["Value"][0] == "SR"]
    assert len(sr_series) == 1
    series_uid = sr_series[0]["0020000E"]["Value"][0]
    instance = client.search_for_instances(study_uid, series_uid)[0]
    retrieved = client.retrieve_instance(study_uid, series_uid, instance["00080018"]["Value"][0])
    sr = hd.sr.ComprehensiveSR.from_dataset(retrieved)
    texts = [item.TextValue for item in sr.ContentSequence if item.ValueType == "TEXT"]
    assert texts == ["Liver: 2 cm hypodense lesion in segment 6.", "New liver lesion, suspicious for metastasis."]
    assert sr.CompletionFlag == "COMPLETE" and sr.VerificationFlag == "VERIFIED"
    assert sr.PatientID == carol_study.PatientID and sr.AccessionNumber == carol_study.AccessionNumber

    carol = {"Authorization": f"Bearer {tokens('carol')}"}
    oru_text = requests.get(f"{stack.api_url}/reports/{report_id}/hl7", headers=carol, timeout=30).text
    wait_until(lambda: received)  # the return is queued at signing and POSTed by the deliveries function
    assert [body for _, body in received] == [oru_text.encode()]
    message = hl7.parse(oru_text)
    assert str(message.segment("MSH")[9]) == "ORU^R01^ORU_R01"
    assert str(message.segment("OBR")[2]) == carol_study.AccessionNumber
    assert [str(s[5]) for s in message.segments("OBX")] == [
        "Liver: 2 cm hypodense lesion in segment 6.", "New liver lesion, suspicious for metastasis."]
    assert all(str(s[11]) == "F" for s in message.segments("OBX"))
    strict = parse_message(oru_text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
    assert strict.name == "ORU_R01" and strict.validate()  # HL7 v2.5.1 structure and datatypes

    fhir = requests.get(f"{stack.api_url}/reports/{report_id}/fhir", headers=carol, timeout=30)
    diagnostic = DiagnosticReport.model_validate(fhir.json())
    assert diagnostic.status == "final"
    assert diagnostic.conclusion == "New liver lesion, suspicious for metastasis."
    bob = {"Authorization": f"Bearer {tokens('bob')}"}
    # others learn nothing, not even that the report exists (outside check, round 12: 403 naming its site)
    for path in ("", "/hl7", "/fhir"):
        real = requests.get(f"{stack.api_url}/reports/{report_id}{path}", headers=bob, timeout=30)
        made_up = requests.get(f"{stack.api_url}/reports/{'x' * 22}{path}", headers=bob, timeout=30)
        assert (real.status_code, real.json()) == (made_up.status_code, made_up.json()) == (
            404, {"message": "Report Not Found", "detail": "report not found"}), (path, real.text)


def test_drafts_are_kept_and_signing_again_amends_with_versions(stack, tokens, carol_study):
    launched = launch(stack, tokens("carol"), launch_tags("demo", "amend-1")).json()
    code = launched["reportLink"].split("code=")[1]
    opened = requests.post(f"{stack.api_url}/report/session", json={"code": code}, timeout=30)
    assert opened.status_code == 200
    assert opened.headers["Content-Security-Policy"] == f"frame-ancestors {HOST_ORIGIN}"
    session = {"x-report-session": opened.json()["session"]}
    draft = {"findings": "No acute findings.", "impression": ""}
    assert requests.put(f"{stack.api_url}/report/current/draft", json=draft, headers=session,
                        timeout=30).json()["status"] == "Draft"
    again = launch(stack, tokens("carol"), launch_tags("demo", "amend-1")).json()
    assert (again["status"], again["reportId"]) == ("Draft", launched["reportId"])
    current = requests.get(f"{stack.api_url}/report/current", headers=session, timeout=30).json()
    assert current["findings"] == "No acute findings."
    first = requests.post(f"{stack.api_url}/report/current/sign", headers=session, timeout=60,
                          json={**draft, "impression": "Normal study."}).json()
    second = requests.post(f"{stack.api_url}/report/current/sign", headers=session, timeout=60,
                           json={**draft, "impression": "Normal study. Addendum: no change."}).json()
    assert (first["status"], first["version"]) == ("Final", 1)
    assert (second["status"], second["version"]) == ("Amended", 2)
    assert launch(stack, tokens("carol"), launch_tags("demo", "amend-1")).json()["status"] == "Amended"
    # the demo site has no return endpoint: the SR of a study Obelisk does not hold starts a new one
    assert first["delivery"] == {"version": 1, "format": "HL7", "status": "none",
                                 "detail": "the site has no return endpoint", "attempts": []}
    client = DICOMwebClient(url=stack.api_url, headers={"Authorization": f"Bearer {tokens('carol')}"})
    series = client.search_for_series(first["study"]["StudyInstanceUID"])
    assert sorted(s["00080060"]["Value"][0] for s in series) == ["SR", "SR"]
    assert requests.get(f"{stack.api_url}/report/current", timeout=30,
                        headers={"x-report-session": "forged"}).status_code == 401
    # the session also reads its report's study over DICOMweb, and nothing else of carol's
    viewer = DICOMwebClient(url=stack.api_url, headers={"Authorization": f"Bearer {opened.json()['session']}"})
    assert [s["0020000D"]["Value"][0] for s in viewer.search_for_studies()] == [first["study"]["StudyInstanceUID"]]
    assert len(viewer.search_for_series(first["study"]["StudyInstanceUID"])) == 2
    hidden = requests.get(f"{stack.api_url}/studies/{carol_study.StudyInstanceUID}/series", timeout=30,
                          headers={"Authorization": f"Bearer {opened.json()['session']}"})
    assert hidden.status_code in (204, 404)


def test_an_origin_outside_the_site_cannot_frame_the_page(stack, tokens, browser):
    class _Elsewhere(_HostPage):
        link = launch(stack, tokens("carol"), launch_tags("demo", "frame-1")).json()["reportLink"]

    server = _serve(_Elsewhere, 0)
    page = browser.new_page()
    try:
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        assert _frame_error_shown(page)  # Chromium refused to frame it
    finally:
        page.close()
        server.shutdown()
    # the blocked frame never ran the page's script: the code is still unused
    assert requests.get(_Elsewhere.link, timeout=30).status_code == 200
