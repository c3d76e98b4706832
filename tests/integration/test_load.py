"""Bounded load on loopback: STOW, QIDO and sharing from several threads at once for a few
seconds. No errors, and the counts agree afterwards."""
from __future__ import annotations

import threading
import time
from collections import Counter

import requests
from pydicom.uid import generate_uid

from devstack.demo import multipart_body
from tests.integration.dicom_samples import load, part10

SECONDS = 12
THREADS = 6


def test_mixed_load_holds_and_counts_agree(stack, tokens):
    api = stack.api_url
    alice = {"Authorization": f"Bearer {tokens('alice')}"}
    requests.get(f"{api}/inboxinfo", headers={"Authorization": f"Bearer {tokens('bob')}"}, timeout=10)
    study = generate_uid()
    album = requests.post(f"{api}/albums", headers=alice, data={"name": "load"}, timeout=10).json()["album_id"]
    statuses: Counter = Counter()
    stored: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + SECONDS

    def stow():
        while time.monotonic() < deadline:
            dataset = load("CT_small.dcm")
            dataset.StudyInstanceUID = study
            body, content_type = multipart_body([part10(dataset)])
            response = requests.post(f"{api}/studies", params={"album": album}, data=body, timeout=60,
                                     headers={**alice, "Content-Type": content_type})
            with lock:
                statuses[("stow", response.status_code)] += 1
                if response.status_code == 200:
                    stored.append(str(dataset.SeriesInstanceUID))

    def qido():
        while time.monotonic() < deadline:
            response = requests.get(f"{api}/studies", params={"album": album}, headers=alice, timeout=60)
            with lock:
                statuses[("qido", response.status_code)] += 1

    def share():
        while time.monotonic() < deadline:
            response = requests.put(f"{api}/studies/{study}/users/bob@example.org", params={"album": album},
                                    headers=alice, timeout=60)
            with lock:
                statuses[("share", response.status_code)] += 1

    workers = [threading.Thread(target=t) for t in (stow, stow, stow, qido, qido, share)][:THREADS]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert all(code in (200, 201, 204, 404) for (_, code) in statuses), statuses
    assert all(code != 404 for (kind, code) in statuses if kind != "share"), statuses
    assert statuses[("stow", 200)] >= 3
    listed = requests.get(f"{api}/studies/{study}/series", params={"album": album}, headers=alice, timeout=60).json()
    assert sorted(s["0020000E"]["Value"][0] for s in listed) == sorted(stored)
    study_row = requests.get(f"{api}/studies", params={"album": album, "StudyInstanceUID": study}, headers=alice,
                             timeout=60).json()[0]
    assert study_row["00201208"]["Value"] == [len(stored)]
    print(f"\nload: {dict(statuses)} in {SECONDS}s with {THREADS} threads")
