"""`python -m bench.studylist_ab STACK.json CODE_A CODE_B [ROUNDS]`: OHIF's study list on two
versions of the code, alternated on the same data, beside Orthanc. STACK.json describes a running
local stack already holding the studies (its API environment, alice's token: written by a script
that starts `bench.obelisk.Obelisk` and loads `bench.search.tiny_studies(N, seed=1000)` through
`bench.search.write_to_obelisk`, as `bench.search` does); CODE_A and CODE_B are checkouts (e.g.
`git archive` exports). Each round starts `chalice local` from one checkout against that emulator,
measures the list as `bench.search` does (p50, API CPU of the process, DynamoDB requests, their
critical path, the estimate on AWS), stops it, and measures Orthanc (loaded with the same studies)
right after. Loading 10,000 studies into the emulator takes 5-15 minutes here: this spares
reloading them for every version and round. Writes BENCH_QIDO_NAME (default studylist-ab).json."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from bench import machine
from bench.client import Server, batches, run_pool
from bench.config import RESULTS, SCRATCH
from bench.measure import JSON, Target, operation
from bench.orthanc import Orthanc
from bench.report import estimate_ms
from bench.search import BASE, tiny_studies
from devstack.stack import free_port, wait_for

QUERY = BASE + "&fuzzymatching=false"


def api(code: Path, env: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "devstack.api_server", "--port", str(port), "--stage", "local"],
                               cwd=code, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(f"http://127.0.0.1:{port}/api/liveness", process=process)
    return process, f"http://127.0.0.1:{port}/api"


def measured(target: Target, repeats: int) -> dict:
    """As `bench.search` measures a search, after `BENCH_AB_WARMUP` requests (default 20) more than
    its one: a fresh `chalice local` pays for its first requests (clients, connections, threads)."""
    for _ in range(int(os.environ.get("BENCH_AB_WARMUP", 20))):
        target.server.get("/studies?" + QUERY, headers=JSON)
    result = operation(target, QUERY, lambda _: target.server.get("/studies?" + QUERY, headers=JSON), repeats)
    if target.calls:
        result["dynamodb_requests"] = sum(v for k, v in result["calls"].items() if k.startswith("dynamodb:"))
        result["aws_estimate_ms"] = estimate_ms(result)
    return result


def main(stack_file: str, code_a: str, code_b: str, rounds: int = 2) -> int:
    stack = json.loads(Path(stack_file).read_text())
    emulator, repeats = stack["emulator"], int(os.environ.get("BENCH_QIDO_REPEATS", 15))
    files, _ = tiny_studies(int(stack["studies"]), seed=1000)
    orthanc = Orthanc(SCRATCH / "orthanc-ab")
    orthanc.start()
    results = {"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": machine.describe(), "studies": len(files),
               "query": QUERY, "repeats": repeats, "code": {"a": code_a, "b": code_b}, "rounds": []}
    try:
        run_pool(batches(files, 25), Server("orthanc", orthanc.dicomweb).stow, 6)
        orthanc_target = Target(Server("orthanc", orthanc.dicomweb), orthanc.pid)
        for round_ in range(rounds):
            for name, code in (("a", code_a), ("b", code_b)):
                process, url = api(Path(code), stack["env"])
                try:
                    target = Target(Server("obelisk", url, {"Authorization": f"Bearer {stack['token']}"}), process.pid,
                                    lambda: requests.delete(emulator + "/_emulator/calls", timeout=10).raise_for_status(),
                                    lambda: requests.get(emulator + "/_emulator/calls", timeout=10).json(), None,
                                    lambda: requests.get(emulator + "/_emulator/timeline", timeout=30).json())
                    row = {"round": round_ + 1, "code": name, "load": machine.load(), "obelisk": measured(target, repeats)}
                finally:
                    process.terminate()
                    process.wait(timeout=15)
                row["orthanc"] = measured(orthanc_target, repeats)
                ob, orth = row["obelisk"], row["orthanc"]
                print(f"round {round_ + 1} {name}: obelisk p50 {ob['p50_ms']:.0f} ms, CPU {ob['cpu_ms']:.1f} ms, "
                      f"{ob['dynamodb_requests']:g} requests, critical path {ob['critical_path_ms']:.0f} ms, estimate "
                      f"{ob['aws_estimate_ms']:.0f} ms; orthanc p50 {orth['p50_ms']:.0f} ms (ratio "
                      f"{ob['p50_ms'] / orth['p50_ms']:.2f}); load {row['load']}", flush=True)
                results["rounds"].append(row)
                RESULTS.mkdir(parents=True, exist_ok=True)
                (RESULTS / f"{os.environ.get('BENCH_QIDO_NAME', 'studylist-ab')}.json").write_text(json.dumps(results, indent=1))
    finally:
        orthanc.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4], *(int(a) for a in sys.argv[4:5])))
