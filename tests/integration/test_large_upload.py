"""A series past the gateway limit: `obelisk upload`, with a batch limit under the instances' size,
sends each instance through the large-upload flow (S3 multipart upload -> S3 event -> uploads
queue -> the same ingest), and retrieving it moves no pixel byte through the API function
(measured from the API's `bytes-out` access log)."""
from __future__ import annotations

import io
import json
import re
import subprocess
import sys

import pydicom
import pytest
import requests

from devstack.bootstrap import aws_client
from tests.conftest import ROOT
from tests.integration import dicom_samples as samples

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
MB = 1024 * 1024


def bytes_out(stack, since: int) -> list[tuple[int, int, str, str]]:
    """(status, body bytes, method, path) of every response the API function sent since offset."""
    log = (stack.data_dir / "api.log").read_bytes()[since:].decode("utf-8", "replace")
    return [(int(code), int(size), method, path)
            for code, size, method, path in re.findall(r"^bytes-out (\d+) (\d+) (\S+) (\S+)$", log, re.M)]


@pytest.fixture(scope="module")
def big_series(stack, tokens, tmp_path_factory):
    folder = tmp_path_factory.mktemp("big-series")
    bodies = samples.big_series(52)  # 52 x 1 MiB of pixel data
    for number, body in enumerate(bodies):
        (folder / f"{number:03}.dcm").write_bytes(body)
    log_offset = (stack.data_dir / "api.log").stat().st_size
    run = subprocess.run(
        [sys.executable, "-m", "obelisk_cli", "upload", "--url", stack.api_url, "--bearer-token", tokens("alice"),
         "--batch-bytes", str(MB), "--json", str(folder)], capture_output=True, timeout=600, cwd=ROOT, check=False)
    answer = json.loads(run.stdout.decode().strip().splitlines()[-1])
    first = pydicom.dcmread(io.BytesIO(bodies[0]))
    return {"answer": answer, "stderr": run.stderr.decode(), "bodies": bodies, "log_offset": log_offset,
            "study": str(first.StudyInstanceUID), "series": str(first.SeriesInstanceUID)}


def test_uploader_uses_the_presigned_flow_and_gets_the_stow_answer(stack, big_series):
    assert sum(len(b) for b in big_series["bodies"]) > 50 * MB
    assert big_series["answer"]["failed"] == [], big_series["answer"]
    assert big_series["answer"]["stored"] == big_series["answer"]["large_uploads"] == 52
    assert "B/s" in big_series["stderr"] or "MB" in big_series["stderr"]  # the tqdm progress bar
    requests_seen = bytes_out(stack, big_series["log_offset"])
    assert any(method == "POST" and path.startswith("/uploads") for _, _, method, path in requests_seen)
    assert not any(method == "POST" and path.startswith("/studies") for _, _, method, path in requests_seen)


def test_retrieving_the_50_mb_series_moves_no_pixel_byte_through_the_function(stack, tokens, big_series):
    offset = (stack.data_dir / "api.log").stat().st_size
    url = f"{stack.api_url}/studies/{big_series['study']}/series/{big_series['series']}"
    answer = requests.get(url, headers={"Authorization": f"Bearer {tokens('alice')}",
                                        "Accept": 'multipart/related; type="application/dicom"'}, timeout=300)
    assert answer.status_code == 200
    assert len(answer.content) > 50 * MB
    for body in big_series["bodies"][:3]:
        assert body in answer.content
    sent = bytes_out(stack, offset)
    assert [(code, method) for code, _, method, _ in sent] == [(303, "GET")]
    assert sum(size for _, size, _, _ in sent) == 0  # the 303 has an empty body: 0 bytes through the function
    print(f"series of {len(answer.content) / MB:.1f} MiB retrieved; API function response bytes: "
          f"{sum(size for _, size, _, _ in sent)}")


def test_study_retrieval_and_metadata_of_the_big_series(stack, tokens, big_series):
    auth = {"Authorization": f"Bearer {tokens('alice')}"}
    offset = (stack.data_dir / "api.log").stat().st_size
    study = requests.get(f"{stack.api_url}/studies/{big_series['study']}", headers=auth, timeout=300)
    assert study.status_code == 200 and len(study.content) > 50 * MB
    assert sum(size for _, size, _, _ in bytes_out(stack, offset)) == 0
    metadata = requests.get(f"{stack.api_url}/studies/{big_series['study']}/series/{big_series['series']}/metadata",
                            headers=auth, timeout=60).json()
    assert len(metadata) == 52 and all("BulkDataURI" in m["7FE00010"] for m in metadata)


def test_someone_elses_upload_is_not_found(stack, tokens):
    auth = {"Authorization": f"Bearer {tokens('alice')}"}
    ticket = requests.post(f"{stack.api_url}/uploads", headers=auth, timeout=30,
                           json={"content_type": "application/dicom"}).json()
    assert requests.get(ticket["status_url"], headers=auth, timeout=30).status_code == 202
    bob = requests.get(ticket["status_url"], headers={"Authorization": f"Bearer {tokens('bob')}"}, timeout=30)
    assert bob.status_code == 404


def test_a_large_rendered_image_is_redirected_not_inlined(stack, tokens, tmp_path):
    """A PNG rendering of a 2048 x 2048 noise frame is over 4 MiB: it goes to S3 and the function
    answers a 303 with no body."""
    body = samples.big_series(1, rows=2048, columns=2048)[0]  # 8 MiB: past a synchronous STOW's limit
    auth = {"Authorization": f"Bearer {tokens('alice')}"}
    (tmp_path / "big.dcm").write_bytes(body)
    stored = subprocess.run([sys.executable, "-m", "obelisk_cli", "upload", "--url", stack.api_url, "--bearer-token",
                             tokens("alice"), "--quiet", str(tmp_path)], cwd=ROOT, capture_output=True, timeout=300)
    assert stored.returncode == 0, stored.stdout.decode()[-500:] + stored.stderr.decode()[-1000:]
    ds = pydicom.dcmread(io.BytesIO(body))
    url = f"{stack.api_url}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}/rendered"
    png = requests.get(url, headers={**auth, "Accept": "image/png"}, timeout=120)
    assert png.status_code == 200 and png.headers["Content-Type"] == "image/png"
    assert len(png.content) > 4 * MB
    # What the client saw from the function itself (not a log a concurrent request also writes):
    # one 303 with no body, then the bytes from the emulator's S3.
    assert [(r.status_code, len(r.content)) for r in png.history] == [(303, 0)]
    assert not png.url.startswith(stack.api_url)


def test_an_interrupted_large_upload_lists_its_parts_to_its_owner_only(stack, tokens):
    """`GET /uploads/{id}/parts`: what S3 holds (ListParts) and fresh URLs for the rest, so a client
    that lost its state sends only the missing parts; another user learns nothing (404)."""
    body = samples.big_series(1, rows=3000, columns=3000)[0]  # 18 MB: 3 parts of 8 MiB
    auth = {"Authorization": f"Bearer {tokens('alice')}"}
    ticket = requests.post(f"{stack.api_url}/uploads", headers=auth, timeout=30,
                           json={"content_type": "application/dicom", "size": len(body)}).json()
    size = ticket["part_size"]
    assert len(ticket["parts"]) == 3
    for part in (ticket["parts"][0], ticket["parts"][2]):  # part 2 never arrives: the page was reloaded
        start = (part["part_number"] - 1) * size
        assert requests.put(part["url"], data=body[start:start + size], timeout=60).status_code == 200
    parts_url = f"{ticket['status_url']}/parts"

    held = requests.get(parts_url, headers=auth, timeout=30)
    assert held.status_code == 200, held.text
    held = held.json()
    assert [p["part_number"] for p in held["received"]] == [1, 3]
    assert held["received_bytes"] == size + (len(body) - 2 * size)
    assert (held["size"], held["part_size"], held["status"]) == (len(body), size, "uploading")
    assert [p["part_number"] for p in held["parts"]] == [2]
    for caller in ("bob", "carol"):
        other = requests.get(parts_url, headers={"Authorization": f"Bearer {tokens(caller)}"}, timeout=30)
        assert other.status_code == 404 and "received" not in other.text
    assert requests.get(f"{stack.api_url}/uploads/nosuchupload/parts", headers=auth, timeout=30).status_code == 404

    assert requests.put(held["parts"][0]["url"], data=body[size:2 * size], timeout=60).status_code == 200
    assert requests.post(held["complete_url"], headers=auth, json={}, timeout=30).status_code == 202
    done = requests.get(parts_url, headers=auth, timeout=30).json()
    assert (done["status"], done["parts"], done["received_bytes"]) == ("completed", [], len(body))


def test_an_upload_s3_aborted_is_not_found_so_the_client_starts_again(stack, tokens):
    """The bucket's lifecycle rule aborts an unfinished multipart upload after a day: asking for its
    parts, or completing it, answers 404 (the web app then starts the file again), not a 500."""
    auth = {"Authorization": f"Bearer {tokens('alice')}"}
    ticket = requests.post(f"{stack.api_url}/uploads", headers=auth, timeout=30,
                           json={"content_type": "application/dicom", "size": 9 * MB}).json()
    s3, bucket = aws_client("s3", stack.emulator_url), f"obelisk-{stack.stage}-dicom"
    request = json.loads(s3.get_object(Bucket=bucket, Key=f"uploads/{ticket['upload_id']}/request.json")["Body"].read())
    s3.abort_multipart_upload(Bucket=bucket, Key=f"uploads/{ticket['upload_id']}/body",
                              UploadId=request["multipart_id"])
    held = requests.get(f"{ticket['status_url']}/parts", headers=auth, timeout=30)
    assert held.status_code == 404 and held.json()["detail"] == "this upload was aborted; start a new one"
    completed = requests.post(ticket["complete_url"], headers=auth, json={}, timeout=30)
    assert completed.status_code == 404
