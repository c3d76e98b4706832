"""The web app uploads a 40 MB instance (past API Gateway's 10 MB and Lambda's 6 MB) through the
large-upload path, with progress; choosing the same folder again after a reload sends nothing:
what is stored is skipped; and a large file interrupted by a reload resumes: only its missing parts
are sent."""
from __future__ import annotations

import re

import pydicom
import pytest
import requests
from playwright.sync_api import expect

from tests.integration import dicom_samples as samples

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::UserWarning")]
MB = 1024 * 1024


def test_a_40_mb_instance_is_uploaded_from_the_browser(sign_in, stack, tmp_path):
    body = samples.big_series(1, rows=4480, columns=4480)[0]  # 40 MB of 16-bit pixels
    assert len(body) > 38 * MB
    (tmp_path / "mammo.dcm").write_bytes(body)
    dataset = pydicom.dcmread(tmp_path / "mammo.dcm", stop_before_pixels=True)
    page = sign_in("alice")
    requests_seen: list[tuple[str, str]] = []
    page.on("request", lambda r: requests_seen.append((r.method, r.url)))
    page.locator("#upload-files").set_input_files(tmp_path / "mammo.dcm")
    note = page.locator("#upload-note")
    expect(note).to_contain_text("1 instance(s) stored", timeout=180_000)
    progress = page.get_by_label("Upload progress")
    assert progress.evaluate("p => p.value === p.max && p.max > 38 * 1024 * 1024")
    assert ("POST", f"{stack.api_url}/uploads") in requests_seen
    assert sum(1 for method, url in requests_seen if method == "PUT" and "partNumber=" in url) == 5  # 8 MiB parts
    assert not any(method == "POST" and url.startswith(f"{stack.api_url}/studies") for method, url in requests_seen)
    expect(page.locator(f'tr[data-study="{dataset.StudyInstanceUID}"]')).to_be_visible(timeout=30_000)


def test_choosing_the_same_folder_after_a_reload_sends_nothing_again(sign_in, study_folder, stack):
    folder, study_uid, _ = study_folder
    page = sign_in("alice")
    page.locator("#upload-folder").set_input_files(folder)
    expect(page.locator("#upload-note")).to_contain_text("3 instance(s) stored", timeout=30_000)
    page.reload()
    posts: list[str] = []
    page.on("request", lambda r: r.method == "POST" and posts.append(r.url))
    page.locator("#upload-folder").set_input_files(folder)
    note = page.locator("#upload-note")
    expect(note).to_contain_text("0 instance(s) stored, 3 already stored", timeout=30_000)
    assert posts == []


def _part_number(url: str) -> int:
    return int(re.search(r"[?&]partNumber=(\d+)", url)[1])


def test_a_large_upload_interrupted_by_a_reload_sends_only_its_missing_parts(sign_in, stack, tokens, tmp_path):
    body = samples.big_series(1, rows=4480, columns=4480)[0]  # 40 MB: 5 parts of 8 MiB
    part_size, count = 8 * MB, -(-len(body) // (8 * MB))
    assert count == 5
    (tmp_path / "mammo.dcm").write_bytes(body)
    dataset = pydicom.dcmread(tmp_path / "mammo.dcm", stop_before_pixels=True)
    page = sign_in("alice")
    part_urls = re.compile(r"[?&]partNumber=\d+")

    # Session 1: parts 1 and 2 go through; the others stay on the wire (a slow link) until the reload.
    first: list[int] = []
    stalled = []

    def session_one(route):
        if route.request.method == "PUT" and _part_number(route.request.url) > 2:
            stalled.append(route)
        else:
            if route.request.method == "PUT":
                first.append(_part_number(route.request.url))
            route.continue_()

    page.route(part_urls, session_one)
    done = []

    def two_parts_stored(request) -> bool:
        if request.method == "PUT" and part_urls.search(request.url) and request.response().status == 200:
            done.append(_part_number(request.url))
        return len(done) >= 2

    with page.expect_event("requestfinished", predicate=two_parts_stored, timeout=180_000):
        page.locator("#upload-files").set_input_files(tmp_path / "mammo.dcm")
    assert sorted(done) == [1, 2] and stalled  # part 3 at least was waiting: the upload is part-way
    page.reload()
    page.unroute_all(behavior="ignoreErrors")

    # Session 2: the same file again; the parts are held until the bar shows the resumed bytes.
    second: list[int] = []
    held = []
    gate = {"open": False}

    def session_two(route):
        if route.request.method == "PUT":
            second.append(_part_number(route.request.url))
        if gate["open"] or route.request.method != "PUT":
            route.continue_()
        else:
            held.append(route)

    page.route(part_urls, session_two)
    page.locator("#upload-files").set_input_files(tmp_path / "mammo.dcm")
    page.wait_for_function("min => { const p = document.querySelector('progress[aria-label=\"Upload progress\"]');"
                           " return p && !p.hidden && p.value >= min; }", arg=2 * part_size, timeout=60_000)
    gate["open"] = True
    for route in held:
        route.continue_()
    note = page.locator("#upload-note")
    expect(note).to_contain_text("1 instance(s) stored", timeout=180_000)

    assert sorted(second) == [3, 4, 5]  # only the missing parts, each once
    assert sorted(first + second) == list(range(1, count + 1))
    assert page.get_by_label("Upload progress").evaluate("(p, size) => p.value === p.max && p.max === size", len(body))
    auth = {"Authorization": f"Bearer {tokens('alice')}"}
    listed = requests.get(f"{stack.api_url}/studies/{dataset.StudyInstanceUID}/instances", headers=auth,
                          timeout=30).json()
    assert [item["00080018"]["Value"][0] for item in listed] == [str(dataset.SOPInstanceUID)]
    retrieved = requests.get(f"{stack.api_url}/studies/{dataset.StudyInstanceUID}/series/"
                             f"{dataset.SeriesInstanceUID}/instances/{dataset.SOPInstanceUID}",
                             headers={**auth, "Accept": 'multipart/related; type="application/dicom"; '
                                                        "transfer-syntax=*"}, timeout=60)
    from obelisk_cli.download import multipart_parts

    (stored,) = multipart_parts(retrieved.content, retrieved.headers["Content-Type"])
    assert stored == body
