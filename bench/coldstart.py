"""Cold start: importing the app module in a fresh interpreter, against a bare `import chalice, boto3`."""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from bench.config import ROOT
from devstack.api_server import stage_environment


def _time(code: str, env: dict, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def slowest_imports(env: dict, top: int = 8) -> list[tuple[str, float]]:
    """`python -X importtime -c "import app"`: self import time summed per top-level package."""
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", "import app"], cwd=ROOT, env=env,
                         capture_output=True, text=True).stderr
    totals: dict[str, float] = {}
    for line in err.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[0].split(":")[-1].strip().isdigit():
            continue
        package = parts[2].strip().split(".")[0]
        totals[package] = totals.get(package, 0.0) + int(parts[0].split(":")[-1]) / 1e3
    return [(k, round(v, 1)) for k, v in sorted(totals.items(), key=lambda kv: -kv[1])[:top]]


def measure(api_env: dict, runs: int) -> dict:
    env = {**os.environ, **stage_environment("local"), **api_env}
    return {"runs": runs, "python_ms": _time("pass", env, runs),
            "chalice_boto3_ms": _time("import chalice, boto3", env, runs),
            "app_ms": _time("import app", env, runs), "slowest_imports_ms": slowest_imports(env)}
