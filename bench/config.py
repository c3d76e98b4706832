"""Bench settings, all from environment variables (documented in docs/benchmarks.md)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRATCH = ROOT / ".obelisk" / "bench"
RESULTS = ROOT / "bench" / "results"


def _int(name: str, default: int, quick: int) -> int:
    return int(os.environ.get(name, quick if QUICK else default))


def _sizes(default: str, quick: str) -> list[int]:
    return [int(v) for v in os.environ.get("BENCH_QIDO_SIZES", quick if QUICK else default).split(",") if v]


QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")


@dataclass(frozen=True)
class Settings:
    quick: bool = QUICK
    stow_series: int = _int("BENCH_STOW_SERIES", 3, 2)           # series per ingest study
    stow_slices: int = _int("BENCH_STOW_SLICES", 40, 8)          # 512x512 slices per series
    stow_batch: int = _int("BENCH_STOW_BATCH", 1, 1)             # instances per STOW request
    metadata_instances: int = _int("BENCH_METADATA_INSTANCES", 600, 60)
    big_batch: int = _int("BENCH_BIG_BATCH", 8, 8)               # instances per STOW request, metadata series
    qido_sizes: tuple[int, ...] = tuple(_sizes("100,1000,10000", "100,300"))
    qido_repeats: int = _int("BENCH_QIDO_REPEATS", 30, 10)
    search_repeats: int = _int("BENCH_SEARCH_REPEATS", 5, 3)       # patient-name searches per population
    load_concurrency: int = _int("BENCH_LOAD_CONCURRENCY", 6, 6)
    load_batch: int = _int("BENCH_LOAD_BATCH", 25, 25)           # tiny studies per STOW request
    metadata_repeats: int = _int("BENCH_METADATA_REPEATS", 10, 5)
    settle_seconds: int = _int("BENCH_SETTLE_SECONDS", 15, 10)    # wait after the metadata series' last STOW
    settle_limit_seconds: int = _int("BENCH_SETTLE_LIMIT_SECONDS", 180, 60)  # and on until the series is built
    frame_requests: int = _int("BENCH_FRAME_REQUESTS", 400, 100)
    frame_concurrency: int = _int("BENCH_FRAME_CONCURRENCY", 25, 25)
    cpu_ops: int = _int("BENCH_CPU_OPS", 30, 10)                 # operations per CPU-time batch
    coldstart_runs: int = _int("BENCH_COLDSTART_RUNS", 5, 3)
