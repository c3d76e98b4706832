"""The web app uploads a 40 MB instance (past API Gateway's 10 MB and Lambda's 6 MB) through the
large-upload path, with progress; and choosing the same folder again after a reload sends nothing:
what is stored is skipped."""
from __future__ import annotations

import pydicom
import pytest
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
