"""The one DICOMweb client both servers get: requests sessions, a thread pool for concurrency."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlencode

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from devstack.demo import multipart_body

FRAME_ACCEPT = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
OHIF_STUDY_LIST = {"limit": "101", "offset": "0", "fuzzymatching": "false", "includefield": "00081030,00080060"}
# The same list filtered by a patient-name prefix (about 1 study in 10 of the bench's population), as
# a query string with `*` as is: Orthanc's DICOMweb plugin 1.7 does not decode `%2A` and matches nothing.
PATIENT_SEARCH = urlencode(OHIF_STUDY_LIST) + "&PatientName=Rossi*"
# A server may close a kept-alive connection just as the client reuses it (Orthanc closes idle ones
# after its keep-alive timeout): a GET sent on it gets no answer at all, and browsers send it again
# on a new connection. So does the bench, once, for GET and HEAD only; answers are never retried.
STALE_CONNECTION_RETRY = Retry(total=1, connect=1, read=1, status=0, other=0, redirect=False,
                               allowed_methods={"GET", "HEAD"}, raise_on_status=False)


@dataclass
class Server:
    name: str
    base: str                      # DICOMweb root: .../api for Obelisk, .../dicom-web for Orthanc
    headers: dict = field(default_factory=dict)
    _local: threading.local = field(default_factory=threading.local)
    stow_failures: list = field(default_factory=list)  # (status, failed SOP count) of 202 answers

    def session(self) -> requests.Session:
        """One keep-alive session per thread, as a real client would hold."""
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
            self._local.session.headers.update(self.headers)
            self._local.session.mount("http://", HTTPAdapter(max_retries=STALE_CONNECTION_RETRY))
        return self._local.session

    def get(self, path: str, redirects: bool = True, **kw) -> requests.Response:
        response = self.session().get(self.base + path, timeout=300, allow_redirects=redirects, **kw)
        if response.status_code >= 400:
            raise RuntimeError(f"{self.name} GET {path}: {response.status_code} {response.text[:300]}")
        return response

    def stow(self, files: list[bytes]) -> requests.Response:
        body, content_type = multipart_body(files)
        response = self.session().post(self.base + "/studies", data=body, timeout=300,
                                       headers={"Content-Type": content_type, "Accept": "application/dicom+json"})
        if response.status_code not in (200, 202):
            raise RuntimeError(f"{self.name} STOW: {response.status_code} {response.text[:300]}")
        if response.status_code == 202:  # some instances refused: FailedSOPSequence (0008,1198)
            failed = response.json().get("00081198", {}).get("Value", [])
            reasons = sorted({str(item.get("00081197", {}).get("Value", ["?"])[0]) for item in failed})
            self.stow_failures.append({"failed": len(failed), "reasons": reasons})
        return response


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_pool(jobs: list, fn, concurrency: int) -> tuple[float, list]:
    """Runs fn(job) for every job with `concurrency` threads; (wall seconds, results)."""
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(fn, jobs))
    return time.perf_counter() - start, results


def batches(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]
