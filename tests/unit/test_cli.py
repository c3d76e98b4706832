"""The `obelisk` command's pure parts: which files are DICOM, how batches are cut, how a STOW
answer becomes failures, and that a request is retried after 503s and dropped connections; what a
user sees on Ctrl-C, a mistyped path, an unreachable server, a bad token or album."""
from __future__ import annotations

import io
import signal
import socket
import threading
import tomllib
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file

from obelisk_cli import files
from obelisk_cli.download import multipart_parts
from obelisk_cli.http import Server
from obelisk_cli.main import main
from obelisk_cli.upload import PART_OVERHEAD, Options, _send_large, batches, stow_outcome, upload

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


class _Answer:
    """Enough of a requests.Response for the upload code."""

    def __init__(self, status: int, document=None):
        self.status_code, self._document, self.headers = status, document, {}
        self.content = b"x" if document is not None else b""

    def json(self):
        return self._document

    def raise_for_status(self):
        if self.status_code >= 400:
            raise RuntimeError(f"HTTP {self.status_code}")


def _stored(*sops: str) -> dict:
    return {"00081199": {"vr": "SQ", "Value": [{"00081155": {"vr": "UI", "Value": [s]}} for s in sops]}}


class _FakeObelisk:
    """An in-memory Obelisk: QIDO knows nothing, STOW stores, /uploads hands out `parts` parts of
    `part_size` bytes. `on_put` / `on_stow` run inside a request, as a test's hook."""

    def __init__(self, part_size: int = 10_000, parts: int = 4, on_put=None, on_stow=None):
        self.part_size, self.parts, self.on_put, self.on_stow = part_size, parts, on_put, on_stow
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def request(self, method: str, path: str, **kwargs):
        with self.lock:
            self.calls.append((method, path))
        if method == "GET":  # QIDO: nothing stored yet
            return _Answer(204)
        if (method, path) == ("POST", "/studies"):
            if self.on_stow:
                self.on_stow()
            return _Answer(200, _stored(*self.stow_sops))
        if (method, path) == ("POST", "/uploads"):
            return _Answer(201, {"part_size": self.part_size, "complete_url": "/uploads/u/complete",
                                 "status_url": "/uploads/u",
                                 "parts": [{"part_number": n, "url": f"https://s3/part{n}"} for n in range(1, self.parts + 1)]})
        if method == "PUT":
            if self.on_put:
                self.on_put(path)
            return _Answer(200)
        if path.endswith("/complete"):
            return _Answer(202, {})
        raise AssertionError(f"unexpected {method} {path}")


def _large(size: int, sop: str = "9.9") -> files.Instance:
    return files.Instance(f"big{sop}", size, "1", "1.1", sop, read=lambda: b"\0" * size)


def test_ctrl_c_during_a_large_upload_starts_no_more_parts_and_counts_the_batch_in_flight():
    options = Options(batch_bytes=5_000, jobs=2, progress=False)
    before = signal.getsignal(signal.SIGINT)  # a shell's background job inherits SIGINT ignored
    batch_answered = threading.Event()

    def interrupt_at_first_part(url):
        if url.endswith("part1"):  # Ctrl-C, delivered to this worker thread (as the kernel may)
            signal.raise_signal(signal.SIGINT)
        assert options.stop.wait(5)  # parts 1 and 2 are in flight until the main thread notices
        if url.endswith("part1"):
            assert batch_answered.wait(5)

    def slow_batch():  # a STOW in flight when Ctrl-C comes: it finishes and is counted
        assert options.stop.wait(5)
        batch_answered.set()

    server = _FakeObelisk(part_size=10_000, parts=4, on_put=interrupt_at_first_part, on_stow=slow_batch)
    small = _instance(100, "1.5")
    server.stow_sops = ["1.5"]
    report = upload(server, [_large(40_000), small], options)
    puts = [path for method, path in server.calls if method == "PUT"]
    assert report.interrupted and sorted(puts) == ["https://s3/part1", "https://s3/part2"]  # 3 and 4 never started
    assert ("POST", "/uploads/u/complete") not in server.calls  # an interrupted large upload is not completed
    assert report.stored == 1 and report.failures == []  # the summary waits for the batch in flight
    assert signal.getsignal(signal.SIGINT) is before  # the handler is put back


def test_the_progress_advances_per_part_of_a_large_instance():
    advanced = []
    server = _FakeObelisk(part_size=10_000, parts=4)
    server.stow_sops = []
    options = Options(batch_bytes=5_000, jobs=1, progress=False, poll_seconds=0)
    _send_large(server, _large(35_000), options, advanced.append)
    assert advanced == [10_000, 10_000, 10_000, 5_000]


def test_a_mistyped_path_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["upload", "--url", "http://127.0.0.1:9", str(tmp_path), str(tmp_path / "nonexistent")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1 and "nonexistent" in err


def _one_dicom_file(tmp_path) -> Path:
    (tmp_path / "a.dcm").write_bytes(Path(get_testdata_file("CT_small.dcm")).read_bytes())
    return tmp_path


def test_an_unreachable_server_is_one_line_and_exit_1(tmp_path, capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: nothing listens there
    url = f"http://127.0.0.1:{port}"
    code = main(["upload", "--url", url, "--retries", "1", "--quiet", str(_one_dicom_file(tmp_path))])
    out, err = capsys.readouterr()
    assert code == 1 and out == "" and err.count("\n") == 1
    assert err.startswith(f"cannot reach {url}: ") and "Connection refused" in err


def _serving(status: int, body: bytes):
    class Refusing(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET  # noqa: N815

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize("status, extra, cause", [(401, [], "token"), (404, ["--album", "nope"], "album nope")])
def test_a_bad_token_or_album_stops_at_the_first_request(tmp_path, capsys, status, extra, cause):
    server = _serving(status, b'{"message": "no", "detail": "why"}')
    try:
        code = main(["upload", "--url", f"http://127.0.0.1:{server.server_port}", "--quiet", *extra,
                     str(_one_dicom_file(tmp_path))])
    finally:
        server.shutdown()
    out, err = capsys.readouterr()
    assert code == 1 and out == "" and err.count("\n") == 1
    assert cause in err and f"HTTP {status}" in err


def test_the_error_comment_of_a_refused_instance_is_shown():
    answer = {"00081198": {"vr": "SQ", "Value": [{"00081155": {"vr": "UI", "Value": ["1.2"]},
                                                  "00081197": {"vr": "US", "Value": [0xA900]},
                                                  "00000902": {"vr": "LO", "Value": ["Patient ID differs"]}}]}}
    _, failures = stow_outcome([_instance(10, "1.2")], 409, answer)
    assert failures[0].reason == "refused (failure reason 0xA900: Patient ID differs)"
