"""The measurements. Each takes a `Target` (one server: its client, its process, and for Obelisk the
emulator's AWS-call counters) and returns plain numbers for the report."""
from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bench.client import FRAME_ACCEPT, OHIF_STUDY_LIST, Server, batches, run_pool
from bench.report import critical_path_ms

TICK = os.sysconf("SC_CLK_TCK")
JSON = {"Accept": "application/dicom+json"}


@dataclass
class Target:
    server: Server
    pid: int
    reset_calls: Callable[[], None] | None = None   # Obelisk only: the emulator counters
    calls: Callable[[], dict] | None = None
    emulator_pids: tuple[int, ...] = ()               # Obelisk only: where AWS's own work happens here
    timeline: Callable[[], list] | None = None        # Obelisk only: the emulator's requests, when sent


def cpu_seconds(*pids: int) -> float:
    """utime + stime of processes (all their threads), from /proc/<pid>/stat."""
    total = 0
    for pid in pids:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / TICK


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def stow(target: Target, files: list[bytes], concurrency: int, batch: int) -> dict:
    seconds, _ = run_pool(batches(files, batch), target.server.stow, concurrency)
    return {"instances": len(files), "concurrency": concurrency, "batch": batch, "seconds": seconds,
            "instances_per_second": len(files) / seconds}


def load(target: Target, files: list[bytes], concurrency: int, batch: int) -> float:
    seconds, _ = run_pool(batches(files, batch), target.server.stow, concurrency)
    return seconds


def operation(target: Target, name: str, fn: Callable[[int], object], n: int) -> dict:
    """n sequential calls of fn(i): latency p50/p95, server CPU per call, AWS calls per call."""
    fn(-1)  # warm: connection, caches, lazy imports; not counted
    if target.reset_calls:
        target.reset_calls()
    latencies = []
    cpu0 = cpu_seconds(target.pid)
    emulator0 = cpu_seconds(*target.emulator_pids)
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        latencies.append(time.perf_counter() - start)
    cpu = (cpu_seconds(target.pid) - cpu0) / n
    result = {"op": name, "n": n, "p50_ms": pct(latencies, 50) * 1e3, "p95_ms": pct(latencies, 95) * 1e3,
              "cpu_ms": cpu * 1e3}
    if target.emulator_pids:
        result["emulator_cpu_ms"] = (cpu_seconds(*target.emulator_pids) - emulator0) / n * 1e3
    if target.calls:
        result["calls"] = {k: v / n for k, v in sorted(target.calls().items())}
    if target.timeline:  # the n calls ran one after the other: their chains add up
        result["critical_path_ms"] = critical_path_ms(target.timeline()) / n
    return result


def qido_studies(target: Target, repeats: int, params: dict | str = OHIF_STUDY_LIST,
                 label: str = "QIDO studies (OHIF list)") -> dict:
    def one(_):
        return target.server.get("/studies", params=params, headers=JSON)

    first = one(0)
    returned = len(first.json()) if first.status_code == 200 else 0  # QIDO answers 204 when nothing matches
    result = operation(target, label, one, repeats)
    result["returned"] = returned
    return result


def metadata(target: Target, study: str, series: str, repeats: int) -> dict:
    path = f"/studies/{study}/series/{series}/metadata"
    cpu0 = cpu_seconds(target.pid)
    start = time.perf_counter()
    first = target.server.get(path, headers=JSON)
    first_s = time.perf_counter() - start
    first_cpu = cpu_seconds(target.pid) - cpu0
    repeats_s = []
    for _ in range(repeats):
        start = time.perf_counter()
        target.server.get(path, headers=JSON)  # requests reads the whole body
        repeats_s.append(time.perf_counter() - start)
    return {"instances": len(first.json()), "bytes": len(first.content), "first_ms": first_s * 1e3,
            "first_cpu_ms": first_cpu * 1e3, "repeat_median_ms": statistics.median(repeats_s) * 1e3}


def frames(target: Target, paths: list[str], requests_n: int, concurrency: int) -> dict:
    jobs = [paths[i % len(paths)] for i in range(requests_n)]
    sizes = []

    def one(path):
        response = target.server.get(path, headers={"Accept": FRAME_ACCEPT})
        sizes.append(len(response.content))

    target.server.get(jobs[0], headers={"Accept": FRAME_ACCEPT})
    seconds, _ = run_pool(jobs, one, concurrency)
    return {"requests": requests_n, "concurrency": concurrency, "seconds": seconds,
            "frames_per_second": requests_n / seconds, "mean_bytes": statistics.mean(sizes)}


def scans(calls: dict) -> list[str]:
    return [k for k, v in calls.items() if k.endswith(":Scan") and v]
