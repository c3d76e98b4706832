"""One public origin for the web app and the API, as a deployment presents it (CloudFront routes
`/api/*` to API Gateway): the web app's local server forwards `/api/*` to the API untouched, so a
client that insists on one origin (KHEOPS's sample report provider) works locally too."""
from __future__ import annotations

import http.client
import socket
import subprocess
import sys
from urllib.parse import urlsplit

import pydicom
import pytest
import requests
from pydicom.data import get_testdata_file

from devstack.stack import ROOT, free_port, wait_for
from tests.integration import dicom_samples as samples

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def front_door(stack, tmp_path_factory):
    """The web app's server (a stand-in site) on a free port, forwarding `/api/*` to the stack's API."""
    site = tmp_path_factory.mktemp("site")
    (site / "index.html").write_text("<!doctype html><title>web app</title>")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.static_site", "--directory", str(site), "--port", str(port),
         "--api-proxy", stack.direct_api_url], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}/api/liveness", process=process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_stow_qido_and_a_redirect_pass_through_unchanged(stack, tokens, front_door):
    auth = {"Authorization": f"Bearer {tokens('alice')}"}
    dataset = samples.renewed(pydicom.dcmread(get_testdata_file("CT_small.dcm")))
    study, series, sop = dataset.StudyInstanceUID, dataset.SeriesInstanceUID, dataset.SOPInstanceUID
    part10 = samples.part10(dataset)
    boundary = "frontdoor"
    body = (f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + part10
            + f"\r\n--{boundary}--\r\n".encode())
    stored = requests.post(f"{front_door}/api/studies", data=body, timeout=60, headers={
        **auth, "Accept": "application/dicom+json",
        "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}'})
    assert stored.status_code == 200, stored.text
    assert stored.json()["00081199"]["Value"][0]["00081155"]["Value"] == [str(sop)]

    query = {"StudyInstanceUID": str(study), "includefield": "all"}
    proxied = requests.get(f"{front_door}/api/studies", params=query, headers=auth, timeout=30)
    direct = requests.get(f"{stack.direct_api_url}/studies", params=query, headers=auth, timeout=30)
    assert proxied.status_code == direct.status_code == 200
    assert proxied.json() == direct.json() and [s["0020000D"]["Value"][0] for s in proxied.json()] == [str(study)]
    assert proxied.headers["Content-Type"] == direct.headers["Content-Type"]

    instance = f"{front_door}/api/studies/{study}/series/{series}/instances/{sop}"
    redirect = requests.get(instance, allow_redirects=False, timeout=30, headers={
        **auth, "Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'})
    assert redirect.status_code == 303 and redirect.content == b""
    assert redirect.headers["Location"].startswith(stack.s3_url + "/")  # handed over, not followed
    assert part10 in requests.get(redirect.headers["Location"], timeout=30).content

    refused = requests.get(f"{front_door}/api/studies", timeout=30)
    refused_directly = requests.get(f"{stack.direct_api_url}/studies", timeout=30)
    assert (refused.status_code, refused.content) == (refused_directly.status_code, refused_directly.content)
    assert refused.status_code == 401 and refused.headers.get("WWW-Authenticate") == refused_directly.headers.get(
        "WWW-Authenticate")


def test_the_site_is_still_served_beside_the_api(front_door):
    page = requests.get(f"{front_door}/albums/abc", headers={"Accept": "text/html"}, timeout=10)
    assert page.status_code == 200 and "<title>web app</title>" in page.text
    assert requests.get(f"{front_door}/apiary", headers={"Accept": "text/html"}, timeout=10).text == page.text



def test_the_public_origin_keeps_a_connection_for_site_and_api_answers_alike(front_door):
    """As CloudFront does, the public origin keeps HTTP/1.1 connections alive for the API's answers
    and the site's files, each answer in step (a HEAD's, a 404's), with the site's security
    headers on its files after an API answer and one Date per answer (it closed every connection
    and repeated the API's Date and Server; outside check round 14)."""
    address = urlsplit(front_door)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    answers = []
    for method, path, accept in [("GET", "/api/liveness", "*/*"), ("GET", "/albums/abc", "text/html"),
                                 ("HEAD", "/api/liveness", "*/*"), ("GET", "/api/nope", "*/*"),
                                 ("GET", "/api/liveness", "*/*")]:
        connection.request(method, path, headers={"Accept": accept})
        socket_before = connection.sock
        answer = connection.getresponse()
        answers.append((answer.status, answer.read(), answer.msg, connection.sock is socket_before))
    connection.close()
    assert [status for status, *_ in answers] == [200, 200, 404, 404, 200]  # HEAD has no route (as GET's 404)
    assert answers[0][1] == answers[4][1] == b'{"status": "alive"}' and answers[2][1] == b""
    assert b"<title>web app</title>" in answers[1][1] and answers[1][2]["Content-Security-Policy"]
    assert all(len(headers.get_all("Date")) == 1 and len(headers.get_all("Server")) == 1
               for _, _, headers, _ in answers)
    assert all(same_connection for *_, same_connection in answers), answers


def test_a_body_sent_with_expect_100_continue_is_asked_for_at_once(stack, tokens, front_door):
    """curl sends `Expect: 100-continue` with any body over 1 MiB and waits up to a second for the
    go-ahead; the public origin gives it at once (it never did: each such upload waited 1 s)."""
    address = urlsplit(front_door)
    body = b"x" * 1000
    with socket.create_connection((address.hostname, address.port), timeout=20) as connection:
        connection.sendall((f"POST /api/studies HTTP/1.1\r\nHost: {address.netloc}\r\n"
                            f"Authorization: Bearer {tokens('alice')}\r\nContent-Type: application/dicom\r\n"
                            f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n").encode())
        go_ahead = connection.recv(65536)  # times out (20 s) without the interim answer
        connection.sendall(body)
        final = b""
        while b"\r\n\r\n" not in final:
            final += connection.recv(65536)
    assert go_ahead.startswith(b"HTTP/1.1 100 Continue\r\n")
    assert final.startswith(b"HTTP/1.1 415") or final.startswith(b"HTTP/1.1 400"), final[:300]
