"""`python -m bench.stow`: the STOW figures of issue 23 alone, Obelisk and Orthanc side by side
(same machine, client and data): multi-instance STOWs with 1 and 4 clients, throughput, API CPU
per instance and, for Obelisk, AWS calls per instance by operation (event functions stopped, as
in `python -m bench`). Writes bench/results/stow.json and stow.md; settings from bench.config
(`BENCH_STOW_SERIES`, `BENCH_STOW_SLICES`), `BENCH_STOW_MULTI_BATCH` (instances per request, 8)
and `BENCH_STOW_ROUNDS` (5: alternating rounds, medians reported). `make bench` runs it after
`python -m bench`."""
from __future__ import annotations

import datetime
import json
import os
import statistics
import subprocess

from bench import data, machine, measure
from bench.__main__ import log
from bench.client import Server, batches, run_pool
from bench.config import RESULTS, ROOT, SCRATCH, Settings
from bench.obelisk import Obelisk
from bench.orthanc import Orthanc, install, version

BATCH = int(os.environ.get("BENCH_STOW_MULTI_BATCH", "8"))
ROUNDS = int(os.environ.get("BENCH_STOW_ROUNDS", "5"))


def phase(server: Server, pid: int, files: list[bytes], concurrency: int, calls=None, emulator_pids=()) -> dict:
    cpu0 = measure.cpu_seconds(pid)
    emulator0 = measure.cpu_seconds(*emulator_pids)
    seconds, _ = run_pool(batches(files, BATCH), server.stow, concurrency)
    n = len(files)
    result = {"instances": n, "concurrency": concurrency, "batch": BATCH, "seconds": round(seconds, 2),
              "instances_per_second": round(n / seconds, 1),
              "api_cpu_ms_per_instance": round((measure.cpu_seconds(pid) - cpu0) / n * 1e3, 1),
              "refused": list(server.stow_failures)}
    server.stow_failures.clear()
    if emulator_pids:  # the local AWS emulator's CPU (moto), which AWS spends on its own machines
        result["emulator_cpu_ms_per_instance"] = round((measure.cpu_seconds(*emulator_pids) - emulator0) / n * 1e3, 1)
    if calls:
        counted = calls()
        result["aws_calls_per_instance"] = round(sum(counted.values()) / n, 2)
        result["aws_calls_by_operation_per_instance"] = {k: round(v / n, 2) for k, v in sorted(counted.items())}
    return result


def run(obelisk: Obelisk, orthanc: Orthanc, s: Settings) -> dict:
    """For 1 and then 4 clients, `ROUNDS` rounds, each storing a new study into Obelisk and then
    into Orthanc: the figures of each round, their medians, and the ratios of the medians (the
    machine's pace moves between rounds, for both servers alike; a round pairs them closely)."""
    alice = {"Authorization": f"Bearer {obelisk.token}"}
    servers = {"obelisk": (Server("obelisk", obelisk.dicomweb, alice), obelisk.api_pid),
               "orthanc": (Server("orthanc", orthanc.dicomweb), orthanc.pid)}
    out: dict = {}
    for clients, seed in ((1, 11), (4, 15)):
        warm = data.ct_study([2 * BATCH], seed=seed + 100).instances()
        for server, _ in servers.values():
            for batch in batches(warm, BATCH):  # connections, lazy imports, caches; the second request
                server.stow(batch)  # adds to a stored series, as most of the phase's do (a first SQS send)
        rounds: dict[str, list[dict]] = {name: [] for name in servers}
        for number in range(ROUNDS):
            files = data.ct_study([s.stow_slices] * s.stow_series, seed=seed + 1000 * number).instances()
            for name, (server, pid) in servers.items():
                log(f"STOW {clients} client(s), {BATCH} per request, round {number + 1}/{ROUNDS}: {name}")
                if name == "obelisk":
                    obelisk.reset_calls()
                rounds[name].append(phase(server, pid, files, clients, obelisk.calls if name == "obelisk" else None,
                                          obelisk.emulator_pids if name == "obelisk" else ()))
        row = out[f"{clients} clients"] = {name: median_of(runs) for name, runs in rounds.items()}
        row["ratios"] = {
            "throughput obelisk/orthanc": round(row["obelisk"]["instances_per_second"] / row["orthanc"]["instances_per_second"], 3),
            "API CPU obelisk/orthanc": round(row["obelisk"]["api_cpu_ms_per_instance"]
                                              / max(row["orthanc"]["api_cpu_ms_per_instance"], 0.1), 2)}
        row["ratios by round"] = [
            {"throughput": round(o["instances_per_second"] / t["instances_per_second"], 3),
             "API CPU": round(o["api_cpu_ms_per_instance"] / max(t["api_cpu_ms_per_instance"], 0.1), 2)}
            for o, t in zip(rounds["obelisk"], rounds["orthanc"], strict=True)]
    return out


MEDIAN_FIELDS = ("seconds", "instances_per_second", "api_cpu_ms_per_instance", "emulator_cpu_ms_per_instance",
                 "aws_calls_per_instance")


def median_of(runs: list[dict]) -> dict:
    """One server's rounds: the median of each figure, the call counts of the last round (they do
    not move between rounds), every round as measured, and every refusal."""
    summary = {k: v for k, v in runs[-1].items() if k not in MEDIAN_FIELDS and k != "refused"}
    for field in MEDIAN_FIELDS:
        if field in runs[0]:
            summary[field] = round(statistics.median(r[field] for r in runs), 2)
    summary["instances"] = sum(r["instances"] for r in runs)
    summary["refused"] = [refusal for r in runs for refusal in r["refused"]]
    summary["rounds"] = runs
    return summary


def markdown(results: dict) -> str:
    lines = [f"# STOW, {results['date']} (Obelisk {results['obelisk_commit']}, {results['orthanc_version']})", "",
             f"Medians of {ROUNDS} rounds; each round stores a new study into Obelisk, then into Orthanc.", "",
             "| clients | server | instances/s | API CPU ms/instance | emulator CPU ms/instance | AWS calls/instance |",
             "|---|---|---|---|---|---|"]
    for phase_name, row in results["stow"].items():
        for name in ("obelisk", "orthanc"):
            r = row[name]
            lines.append(f"| {phase_name} | {name} | {r['instances_per_second']} | {r['api_cpu_ms_per_instance']} | "
                         f"{r.get('emulator_cpu_ms_per_instance', '')} | {r.get('aws_calls_per_instance', '')} |")
        lines.append(f"| {phase_name} | obelisk/orthanc | {row['ratios']['throughput obelisk/orthanc']}x | "
                     f"{row['ratios']['API CPU obelisk/orthanc']}x | | |")
    lines += ["", "Ratios by round (Obelisk/Orthanc):", "", "| clients | round | throughput | API CPU |", "|---|---|---|---|"]
    for phase_name, row in results["stow"].items():
        lines += [f"| {phase_name} | {n} | {r['throughput']}x | {r['API CPU']}x |"
                  for n, r in enumerate(row["ratios by round"], start=1)]
    lines += ["", "Obelisk's AWS calls per instance by operation (4 clients):", "```",
              json.dumps(results["stow"]["4 clients"]["obelisk"].get("aws_calls_by_operation_per_instance", {}), indent=1),
              "```", f"Machine: {json.dumps(results['machine'])}", ""]
    return "\n".join(lines)


def main() -> int:
    s = Settings()
    install()
    orthanc, obelisk = Orthanc(SCRATCH / "orthanc-stow"), Obelisk(SCRATCH / "obelisk-stow")
    try:
        orthanc.start()
        obelisk.start()
        results = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "machine": machine.describe(),
                   "orthanc_version": version(), "obelisk_commit": subprocess.run(
                       ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip(),
                   "stow": run(obelisk, orthanc, s)}
    finally:
        orthanc.stop()
        obelisk.stop()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "stow.json").write_text(json.dumps(results, indent=1))
    (RESULTS / "stow.md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
