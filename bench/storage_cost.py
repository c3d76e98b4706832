"""What one DX instance (4096x4096, 32 MB, the large-upload flow) costs the local stack, in figures
the machine's load does not move: the CPU seconds each process of the stack (emulator, API,
event functions, the `obelisk upload` client) spends to store it and to answer the reads of
`bench.storage.read_like_viewers`, then 7 warm reads of its first frame and of its series
metadata, and the emulator's requests of one frame and one series-metadata read
(`GET /_emulator/calls`). Wall times are written beside them. docs/storage.md compares the
layouts with it; `python -m bench.storage_cost [--rounds 2] [--out ...]`."""
from __future__ import annotations

import io
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

from bench import storage

ROOT = Path(__file__).resolve().parent.parent
WARM_READS = 7
TICKS = os.sysconf("SC_CLK_TCK")
FRAME_ACCEPT = "multipart/related; type=application/octet-stream; transfer-syntax=*"


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _snapshot(processes: dict[str, int]) -> dict[str, float]:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    taken = {name: _cpu_seconds(pid) for name, pid in processes.items()}
    return {**taken, "client": children.ru_utime + children.ru_stime, "wall": time.perf_counter()}


def _spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: round(after[name] - before[name], 2) for name in before}


def _calls(emulator_url: str) -> dict[str, int]:
    """The emulator's request counts since the last call, which resets them."""
    return {k: v for k, v in requests.delete(f"{emulator_url}/_emulator/calls", timeout=30).json().items() if v}


def one_round(api_url: str, emulator_url: str, token: str, processes: dict[str, int], seed: int) -> dict:
    """Stores one new DX study, reads it as the storage bench does, then warm reads."""
    from pydicom import dcmread

    auth = {"Authorization": f"Bearer {token}"}
    files = storage._series(1, 4096, seed, storage._dx)
    study = str(dcmread(io.BytesIO(files[0]), stop_before_pixels=True).StudyInstanceUID)
    start = _snapshot(processes)
    storage.store(api_url, token, files)
    stored = _snapshot(processes)
    _, timings = storage.read_like_viewers(api_url, token, study)
    read = _snapshot(processes)
    series = requests.get(f"{api_url}/studies/{study}/series", headers=auth, timeout=60).json()[0]["0020000E"]["Value"][0]
    metadata_path = f"{api_url}/studies/{study}/series/{series}/metadata"
    sop = requests.get(metadata_path, headers=auth, timeout=60).json()[0]["00080018"]["Value"][0]
    frame_path = f"{api_url}/studies/{study}/series/{series}/instances/{sop}/frames/1"
    figures = {"store_cpu_s": _spent(start, stored), "viewer_reads_cpu_s": _spent(stored, read), **timings}
    for name, path, accept in (("frame", frame_path, FRAME_ACCEPT), ("metadata", metadata_path, None)):
        headers = {**auth, **({"Accept": accept} if accept else {})}
        _calls(emulator_url)
        requests.get(path, headers=headers, allow_redirects=False, timeout=60).raise_for_status()
        figures[f"{name}_calls"] = _calls(emulator_url)
        before, samples = _snapshot(processes), []
        for _ in range(WARM_READS):
            began = time.perf_counter()
            requests.get(path, headers=headers, timeout=300).raise_for_status()
            samples.append((time.perf_counter() - began) * 1000)
        figures[f"{name}_x{WARM_READS}_cpu_s"] = _spent(before, _snapshot(processes))
        figures[f"{name}_warm_median_ms"] = round(statistics.median(samples), 1)
    return figures


def main() -> int:
    import argparse

    from devstack.stack import LocalStack

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "storage-cost.json"))
    arguments = parser.parse_args()
    rounds = []
    with tempfile.TemporaryDirectory() as scratch:
        stack = LocalStack(Path(scratch) / "stack", emulator_port=0, api_port=0, persist=False)
        stack.start()
        try:
            processes = {name: p.pid for name, p in zip(("emulator-s3", "emulator", "api", "pollers"), stack.processes, strict=True)}
            token = stack.token("alice")
            for number in range(arguments.rounds):
                rounds.append(one_round(stack.api_url, stack.emulator_url, token, processes, seed=2 + 10 * number))
                print(json.dumps(rounds[-1]), flush=True)
        finally:
            stack.stop()
    Path(arguments.out).write_text(json.dumps(rounds, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
