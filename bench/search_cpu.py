"""`python -m bench.search_cpu [studies]`: the API's CPU per study search in one process (Chalice's
Lambda handler path, `bench.profile.gateway`) against a fresh local stack holding `studies` tiny
studies (`bench.search`), with DynamoDB's reads sent through botocore's client and sent lean
(`store.dynamodb_reads`), alternating, 3 rounds of 40 requests each (`BENCH_QIDO_SEARCHES` picks
the searches, PatientID by default). The process's CPU clock: the emulator is another process."""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import requests

from bench import search
from bench.profile import Request, gateway
from devstack.in_process import service_layer

ROUNDS, REQUESTS = 3, 40


def cpu_ms(send, request: Request) -> float:
    answer = send(request)
    if answer["statusCode"] != 200:
        raise RuntimeError(f"{answer['statusCode']} {str(answer.get('body'))[:200]}")
    start = time.process_time()
    for _ in range(REQUESTS):
        send(request)
    return (time.process_time() - start) / REQUESTS * 1e3


def main(studies: int = 200) -> int:
    from devstack.stack import LocalStack

    os.environ.setdefault("BENCH_QIDO_SEARCHES", "PatientID")
    stack = LocalStack(Path(tempfile.mkdtemp()), emulator_port=0, api_port=0, persist=False).start()
    try:
        stack.kill_pollers()
        token = stack.token("alice")
        requests.get(f"{stack.api_url}/studies", headers={"Authorization": f"Bearer {token}"}, timeout=60)
        files, values = search.tiny_studies(studies, seed=1000)
        search.write_to_obelisk(SimpleNamespace(stack=stack), files)
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        with service_layer(stack):
            from chalicelib.store import dynamodb_reads
            lean, send = dynamodb_reads.READS, gateway()
            try:
                for label, query in search.searches(values).items():
                    found: dict[str, list[float]] = {"botocore": [], "lean": []}
                    for _ in range(ROUNDS):
                        for mode in found:
                            dynamodb_reads.READS = lean if mode == "lean" else frozenset()
                            found[mode].append(cpu_ms(send, Request("GET", "/studies?" + query, headers)))
                    print(f"{label}: API CPU ms per search, " + "; ".join(
                        f"{mode} {', '.join(f'{v:.1f}' for v in values)}" for mode, values in found.items()))
            finally:
                dynamodb_reads.READS = lean
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
