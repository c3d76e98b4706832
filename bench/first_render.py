"""`python -m bench.first_render [--studies 5]`: what a STOW costs and what the first image reads
cost after it, on a fresh local stack: one STOW of 8 512x512 CT slices per study, then the series
thumbnail and one instance's rendered JPEG, each read twice (the first builds the cached image
when the STOW did not write it; the second is the redirect). Medians over the studies, every
figure in bench/results/first-render.json (docs/benchmarks.md, "STOW alone")."""
from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import time
from pathlib import Path

import pydicom
import requests

from bench import data
from bench.config import RESULTS

SLICES = 8


def measure(stack, studies: int) -> dict[str, list[float]]:
    from devstack.demo import multipart_body

    alice = {"Authorization": f"Bearer {stack.token('alice')}"}
    timings: dict[str, list[float]] = {}

    def timed(name: str, call) -> requests.Response:
        started = time.monotonic()
        answer = call()
        timings.setdefault(name, []).append(round((time.monotonic() - started) * 1e3, 1))
        return answer

    for seed in range(studies):
        files = data.ct_study([SLICES], seed=50 + seed).instances()
        first = pydicom.dcmread(io.BytesIO(files[0]), stop_before_pixels=True)
        study, series, sop = first.StudyInstanceUID, first.SeriesInstanceUID, first.SOPInstanceUID
        body, content_type = multipart_body(files)
        stored = timed("stow ms", lambda body=body, content_type=content_type: requests.post(
            f"{stack.api_url}/studies", data=body, timeout=120, headers={**alice, "Content-Type": content_type}))
        assert stored.status_code == 200, stored.text
        for kind, path in (("thumbnail", f"/studies/{study}/series/{series}/thumbnail"),
                           ("rendered", f"/studies/{study}/series/{series}/instances/{sop}/rendered")):
            for which in ("first", "next"):
                image = timed(f"{which} {kind} ms", lambda path=path: requests.get(
                    stack.api_url + path, headers={**alice, "Accept": "image/jpeg"}, timeout=60))
                assert image.status_code == 200 and image.content[:2] == b"\xff\xd8", image.status_code
    return timings


def main() -> int:
    from devstack.stack import LocalStack

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--studies", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS / "first-render.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        stack = LocalStack(Path(scratch), emulator_port=0, api_port=0, persist=False)
        stack.start()
        try:
            timings = measure(stack, args.studies)
        finally:
            stack.stop()
    result = {"medians": {k: statistics.median(v) for k, v in timings.items()}, "runs": timings}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result["medians"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
