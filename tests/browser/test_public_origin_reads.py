"""A viewer on another origin (OHIF's place) reads pixel data in real Chromium from a stack with one
public origin: its fetch with the user's token is redirected to the public origin's storage path,
which Chromium reaches across origins (a CORS preflight through the front door, answered by the
bucket's rules) carrying the token along the same-origin redirect; the front door does not pass
it to the bucket (docs/dicomweb.md, "Which URL")."""
from __future__ import annotations

import pydicom
import pytest
from pydicom.data import get_testdata_file

from tests.browser.conftest import _serve
from tests.conftest import running_public_stack
from tests.dicomweb_session import DICOMwebClient

FETCH = """async ([url, token, accept]) => {
  const answer = await fetch(url, {headers: {Authorization: `Bearer ${token}`, Accept: accept}});
  const body = new Uint8Array(await answer.arrayBuffer());
  return {status: answer.status, url: answer.url, length: body.length,
          head: Array.from(body.slice(0, 2))};
}"""


@pytest.fixture(scope="module")
def public(tmp_path_factory):
    yield from running_public_stack(tmp_path_factory, "public-origin-browser")


@pytest.fixture(scope="module")
def viewer_page(public, tmp_path_factory):
    """A page on an origin of its own, where a viewer's scripts run."""
    folder = tmp_path_factory.mktemp("viewer")
    (folder / "index.html").write_text("<!doctype html><title>viewer</title>")
    yield from _serve(public, folder, "viewer")


def test_a_viewer_on_another_origin_reads_pixel_data_from_the_public_origin(public, viewer_page, browser):
    token = public.token("alice")
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    DICOMwebClient(public.api_url, headers={"Authorization": f"Bearer {token}"}).store_instances([dataset])
    instance = (f"{public.api_url}/studies/{dataset.StudyInstanceUID}/series/{dataset.SeriesInstanceUID}"
                f"/instances/{dataset.SOPInstanceUID}")
    page = browser.new_page()
    try:
        page.goto(viewer_page)
        whole = page.evaluate(FETCH, [instance, token, 'multipart/related; type="application/dicom"'])
        frame = page.evaluate(FETCH, [instance + "/frames/1", token,
                                      'multipart/related; type="application/octet-stream"; transfer-syntax=*'])
    finally:
        page.close()
    for answer in (whole, frame):
        assert answer["status"] == 200, answer
        assert answer["url"].startswith(public.public_url + "/") and "/api/" not in answer["url"], answer
    assert whole["length"] > len(dataset.PixelData) and frame["length"] > len(dataset.PixelData)
    assert whole["head"] == list(b"--") and frame["head"] == list(b"--")  # multipart bodies
