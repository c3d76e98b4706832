"""The API function keeps the buffers it frees for its next request (chalicelib/allocator.py):
with glibc's defaults the buffers of a STOW-like request (a 4 MiB body, its eight parts, a copy
of each) are mapped afresh and paged in again on every request, ~3,000 page faults each; once the
API is loaded, almost none after the first."""
from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = 20
# Faults of REQUESTS requests after two to warm up, each on a thread of its own as the local
# gateway runs them; `import app` when asked.
PROGRAM = """
import os, resource, sys, threading
if sys.argv[1] == "app":
    import app  # noqa: F401
body = os.urandom(4 * 1024 * 1024)
def request():
    copy = bytes(bytearray(body))
    parts = [copy[i * 524288 + 7:(i + 1) * 524288] for i in range(8)]
    kept = [p[3:] for p in parts]
    del copy, parts, kept
def requests(n):
    for _ in range(n):
        worker = threading.Thread(target=request)
        worker.start()
        worker.join()
requests(2)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
requests(int(sys.argv[2]))
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")


def page_faults(load_app: bool) -> int:
    answer = subprocess.run([sys.executable, "-c", PROGRAM, "app" if load_app else "plain", str(REQUESTS)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    return int(answer.stdout.split()[-1])


def test_the_loaded_api_pages_in_a_request_s_buffers_once_not_on_every_request():
    assert page_faults(load_app=False) > REQUESTS * 1_000  # glibc's defaults: ~3,000 per request
    assert page_faults(load_app=True) < REQUESTS * 20
