"""The `obelisk` command's pure parts: which files are DICOM, how batches are cut, how a STOW
answer becomes failures, and that a request is retried after 503s and dropped connections."""
from __future__ import annotations

import io
import threading
import tomllib
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file

from obelisk_cli import files
from obelisk_cli.download import multipart_parts
from obelisk_cli.http import Server
from obelisk_cli.upload import PART_OVERHEAD, batches, stow_outcome

ROOT = Path(__file__).resolve().parents[2]


def test_the_obelisk_command_is_a_console_entry_point():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["obelisk"] == "obelisk_cli.main:main"
    assert "pip install --quiet --no-deps -e ." in (ROOT / "Makefile").read_text()


def test_only_part10_instances_are_kept_and_the_rest_is_listed(tmp_path):
    ct = Path(get_testdata_file("CT_small.dcm")).read_bytes()
    (tmp_path / "a.dcm").write_bytes(ct)
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "raw.dcm").write_bytes(ct[132:])  # no preamble: not a Part-10 file
    with zipfile.ZipFile(tmp_path / "cd.zip", "w") as archive:
        archive.writestr("DICOM/IM1", ct)
        archive.writestr("DICOMDIR", Path(get_testdata_file("DICOMDIR")).read_bytes())
    found = files.collect([str(tmp_path)])
    assert sorted(Path(i.name.split("!")[-1]).name for i in found.instances) == ["IM1", "a.dcm"]
    assert found.instances[0].read() == ct
    reasons = {Path(name.split("!")[-1]).name: reason for name, reason in found.skipped}
    assert set(reasons) == {"notes.txt", "raw.dcm", "DICOMDIR"}
    assert reasons["DICOMDIR"].startswith("DICOMDIR")
    assert str(pydicom.dcmread(io.BytesIO(ct)).SOPInstanceUID) == found.instances[0].sop_uid


def _instance(size: int, sop: str = "1.2") -> files.Instance:
    return files.Instance(f"f{sop}", size, "1", "1.1", sop, read=lambda: b"")


def test_batches_stay_under_the_limit():
    items = [_instance(1000, str(n)) for n in range(10)]
    groups = batches(items, 3 * (1000 + PART_OVERHEAD))
    assert [len(g) for g in groups] == [3, 3, 3, 1]
    assert sum(groups, []) == items
    assert [len(g) for g in batches(items, 10 ** 9, count=4)] == [4, 4, 2]  # many small ones: cut by count


def test_a_202_stow_answer_lists_the_refused_instances():
    sent = [_instance(10, "1.1"), _instance(10, "1.2")]
    answer = {"00081199": {"vr": "SQ", "Value": [{"00081155": {"vr": "UI", "Value": ["1.1"]}}]},
              "00081198": {"vr": "SQ", "Value": [{"00081155": {"vr": "UI", "Value": ["1.2"]},
                                                  "00081197": {"vr": "US", "Value": [0x0124]}}]}}
    stored, failures = stow_outcome(sent, 202, answer)
    assert stored == 1 and [(f.sop_uid, f.reason) for f in failures] == [("1.2", "refused (failure reason 0x0124)")]
    stored, failures = stow_outcome(sent, 413, {"message": "Request Entity Too Large"})
    assert stored == 0 and all("HTTP 413" in f.reason for f in failures)


def test_requests_are_retried_after_503_and_a_dropped_connection():
    calls = []

    class Flaky(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            calls.append(self.rfile.read(int(self.headers["Content-Length"])))
            if len(calls) == 1:
                self.close_connection = True
                self.connection.close()  # no answer at all
                return
            status = 503 if len(calls) == 2 else 200
            self.send_response(status)
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = Server(f"http://127.0.0.1:{server.server_port}", backoff=0.01)
        answer = client.request("POST", "/studies", data=b"body")
    finally:
        server.shutdown()
    assert answer.status_code == 200 and calls == [b"body"] * 3


def test_multipart_parts_are_cut_at_the_boundary():
    body = b"--b\r\nContent-Type: application/dicom\r\n\r\nONE\r\n--b\r\nContent-Type: x\r\n\r\nT\r\nWO\r\n--b--\r\n"
    assert multipart_parts(body, 'multipart/related; type="application/dicom"; boundary="b"') == [b"ONE", b"T\r\nWO"]
