"""Measurement (docs/upload.md): `obelisk upload` of a ~1 GB folder (2,000 instances of 0.5 MiB in
10 studies, a DICOMDIR, non-DICOM files) to a local stack on free ports, interrupted with SIGINT at
about half and run again. Checks every instance stored exactly once (QIDO counts and S3 Part-10
objects) and prints throughput, exit codes and the progress output.

    .venv/bin/python -m bench.upload_resume [--instances 2000] [--out bench/results/upload-resume.json]
"""
from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom
import requests
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from devstack.bootstrap import aws_client
from devstack.stack import ROOT, LocalStack

STUDIES = 10


def make_folder(root: Path, count: int) -> dict[str, int]:
    """count instances of 512 x 512 16-bit noise (0.5 MiB) over STUDIES studies; returns study -> count."""
    template = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    noise = np.random.default_rng(7)
    studies = {generate_uid(): 0 for _ in range(STUDIES)}
    uids = list(studies)
    series = {st: generate_uid() for st in uids}
    for number in range(count):
        study = uids[number % STUDIES]
        template.StudyInstanceUID, template.SeriesInstanceUID = study, series[study]
        template.SOPInstanceUID = template.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        template.InstanceNumber = number
        template.Rows = template.Columns = 512
        template.PixelData = noise.integers(0, 4000, size=(512, 512), dtype=np.uint16).tobytes()
        folder = root / f"study{uids.index(study)}"
        folder.mkdir(parents=True, exist_ok=True)
        template.save_as(folder / f"IM{number:05}", enforce_file_format=True)
        studies[study] += 1
    from tests.integration.test_cli_upload import dicomdir

    dicomdir(root / "DICOMDIR")
    (root / "README.TXT").write_text("CD contents")
    (root / "AUTORUN.INF").write_text("[autorun]")
    (root / "viewer").mkdir()
    (root / "viewer" / "viewer.exe").write_bytes(b"MZ" + bytes(4096))
    return studies


def stored(stack: LocalStack, token: str, study: str) -> int:
    answer = requests.get(f"{stack.api_url}/studies/{study}/instances", params={"includefield": "00080018"},
                          headers={"Authorization": f"Bearer {token}", "Accept": "application/dicom+json"}, timeout=60)
    return 0 if answer.status_code in (204, 404) else len(answer.json())


def part10_objects(stack: LocalStack, study: str) -> int:
    pages = aws_client("s3", stack.emulator_url).get_paginator("list_objects_v2").paginate(
        Bucket=f"obelisk-{stack.stage}-dicom", Prefix=f"dicom/{study}/")
    return sum(len(page.get("Contents", [])) for page in pages)


def run(stack: LocalStack, token: str, folder: Path, interrupt_at: int | None, studies: list[str]) -> dict:
    command = [sys.executable, "-m", "obelisk_cli", "upload", "--url", stack.api_url, "--bearer-token", token,
               "--json", str(folder)]
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if interrupt_at is not None:
        while process.poll() is None and sum(stored(stack, token, st) for st in studies) < interrupt_at:
            time.sleep(1)
        process.send_signal(signal.SIGINT)
    out, err = process.communicate()
    return {"exit_code": process.returncode, "wall_seconds": round(time.monotonic() - started, 1),
            "summary": json.loads(out.decode().strip().splitlines()[-1]),
            "progress_tail": err.decode().replace("\r", "\n").strip().splitlines()[-6:]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", type=int, default=2000)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "upload-resume.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "cd"
        studies = make_folder(folder, args.instances)
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        stack = LocalStack(Path(scratch) / "stack", emulator_port=0, api_port=0, persist=False)
        stack.start()
        try:
            token = stack.token("alice")
            first = run(stack, token, folder, args.instances // 2, list(studies))
            second = run(stack, token, folder, None, list(studies))
            counts = {st: (stored(stack, token, st), part10_objects(stack, st), n) for st, n in studies.items()}
        finally:
            stack.stop()
    result = {"folder_bytes": size, "instances": args.instances, "first": first, "second": second,
              "exactly_once": all(q == s == n for q, s, n in counts.values()),
              "counts": {st: {"qido": q, "s3": s, "expected": n} for st, (q, s, n) in counts.items()}}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0 if result["exactly_once"] and first["exit_code"] == 130 and second["exit_code"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
