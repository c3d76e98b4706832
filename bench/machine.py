"""The machine the figures come from, and how loaded it was."""
from __future__ import annotations

import os
import platform
import subprocess


def cpu_model() -> str:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def ram_gb() -> float:
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal"):
            return round(int(line.split()[1]) / 1024 / 1024, 1)
    return 0.0


def load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def busy_processes(limit: int = 5) -> list[str]:
    """The processes using most CPU right now (another test suite may share the machine)."""
    out = subprocess.run(["ps", "-eo", "pcpu,comm", "--sort=-pcpu", "--no-headers"], capture_output=True, text=True)
    return [" ".join(line.split()) for line in out.stdout.splitlines()[:limit]]


def describe() -> dict:
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "ram_gb": ram_gb(), "kernel": platform.release(),
            "python": platform.python_version(), "load_at_start": load(), "busy_at_start": busy_processes()}
