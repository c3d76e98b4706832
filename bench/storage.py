"""Storage ratio: S3 bytes kept per DICOM byte received, per modality, after the reads a viewer
and a downloader make (QIDO, metadata, every frame, a rendered image, the series, a zip).
Permanent bytes (`dicom/`, `wado/`) are counted apart from the cache (`cache/`, expired by the
bucket's lifecycle rule and rebuilt on read): docs/storage.md."""
from __future__ import annotations

import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import requests
from PIL import Image
from pydicom.encaps import encapsulate
from pydicom.uid import (
    JPEGBaseline8Bit,
    MRImageStorage,
    UltrasoundMultiFrameImageStorage,
    generate_uid,
)

from bench import data

ROOT = Path(__file__).resolve().parent.parent
DX_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation
UPLOAD_BATCH = 4 * 1024 * 1024  # larger instances go through the large-upload flow
REPEATS = 7  # warm reads of the series metadata and of a first frame, for their median


def _series(count: int, size: int, seed: int, change) -> list[bytes]:
    """`count` instances of one new study and series, each a bench CT slice changed by `change`."""
    import random

    from pydicom import dcmread

    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    header = data.study_header(rng)
    series = generate_uid()
    out = []
    for z in range(count):
        dataset = dcmread(io.BytesIO(data.instance(header, series, 1, z, size, nrng)))
        change(dataset, z, nrng)
        buffer = io.BytesIO()
        dataset.save_as(buffer, enforce_file_format=True)
        out.append(buffer.getvalue())
    return out


def _mr(dataset, _z, _rng) -> None:
    dataset.SOPClassUID = dataset.file_meta.MediaStorageSOPClassUID = MRImageStorage
    dataset.Modality = "MR"
    del dataset.RescaleIntercept, dataset.RescaleSlope, dataset.KVP


def _dx(dataset, _z, _rng) -> None:
    dataset.SOPClassUID = dataset.file_meta.MediaStorageSOPClassUID = DX_STORAGE
    dataset.Modality = "DX"


def _us(dataset, z, rng, frames: int = 16, rows: int = 480, columns: int = 640) -> None:
    dataset.SOPClassUID = dataset.file_meta.MediaStorageSOPClassUID = UltrasoundMultiFrameImageStorage
    dataset.Modality = "US"
    del dataset.RescaleIntercept, dataset.RescaleSlope, dataset.KVP, dataset.WindowCenter, dataset.WindowWidth
    dataset.SamplesPerPixel, dataset.PhotometricInterpretation, dataset.PlanarConfiguration = 3, "RGB", 0
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 8, 8, 7
    dataset.Rows, dataset.Columns, dataset.NumberOfFrames = rows, columns, frames
    dataset.PixelData = rng.integers(0, 255, size=(frames, rows, columns, 3), dtype=np.uint8).tobytes()


def _jpeg(dataset, z, rng) -> None:
    """A JPEG Baseline CT slice (lossy, 8 bits): the compressed series."""
    size = int(dataset.Rows)
    pixels = np.frombuffer(dataset.PixelData, dtype=np.uint16).reshape(size, size)
    image = Image.fromarray((np.clip(pixels, 0, 2047) // 8).astype(np.uint8))
    encoded = io.BytesIO()
    image.save(encoded, format="JPEG", quality=90)
    dataset.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 8, 8, 7
    dataset.PixelData = encapsulate([encoded.getvalue()])
    dataset["PixelData"].VR = "OB"
    dataset["PixelData"].is_undefined_length = True


def modality_series(seed: int = 0) -> dict[str, list[bytes]]:
    """name -> the Part-10 files of one new study of that modality."""
    return {
        "CT 512x512": _series(10, 512, seed, lambda *_: None),
        "MR 256x256": _series(12, 256, seed + 1, _mr),
        "DX 4096x4096": _series(1, 4096, seed + 2, _dx),
        "US multi-frame": _series(1, 64, seed + 3, _us),
        "JPEG CT 512x512": _series(10, 512, seed + 4, _jpeg),
    }


def store(api_url: str, token: str, files: list[bytes]) -> dict:
    """Stores the files with `obelisk upload` (STOW, or the large-upload flow for big ones)."""
    with tempfile.TemporaryDirectory() as folder:
        for number, body in enumerate(files):
            (Path(folder) / f"{number:04}.dcm").write_bytes(body)
        run = subprocess.run([sys.executable, "-m", "obelisk_cli", "upload", "--url", api_url,
                              "--bearer-token", token, "--batch-bytes", str(UPLOAD_BATCH), "--json", folder],
                             capture_output=True, timeout=900, cwd=ROOT, check=True)
    return json.loads(run.stdout.decode().strip().splitlines()[-1])


def read_like_viewers(api_url: str, token: str, study: str) -> tuple[dict[str, bytes], dict[str, float]]:
    """QIDO, series metadata, every frame, a rendered image, the series and a zip; returns the
    zip's files (name -> bytes), to compare with what was sent, and the milliseconds the first
    series metadata and the first frame took (what OHIF waits for before its first image), and
    the median of warm reads of both (the last series')."""
    auth = {"Authorization": f"Bearer {token}"}
    timings: dict[str, float] = {}

    def timed(name: str, path: str, accept: str | None = None) -> requests.Response:
        start = time.perf_counter()
        answer = get(path, accept)
        timings.setdefault(name, round((time.perf_counter() - start) * 1000, 1))
        return answer

    def get(path: str, accept: str | None = None, **params) -> requests.Response:
        answer = requests.get(f"{api_url}{path}", headers={**auth, **({"Accept": accept} if accept else {})},
                              params=params, timeout=300)
        answer.raise_for_status()
        return answer

    get("/studies", "application/dicom+json", StudyInstanceUID=study)
    for series in (s["0020000E"]["Value"][0] for s in get(f"/studies/{study}/series").json()):
        metadata = timed("first_metadata_ms", f"/studies/{study}/series/{series}/metadata").json()
        for instance in metadata:
            sop = instance["00080018"]["Value"][0]
            frames = int(instance.get("00280008", {}).get("Value", [1])[0])
            for number in range(1, frames + 1):
                timed("first_frame_ms", f"/studies/{study}/series/{series}/instances/{sop}/frames/{number}",
                      "multipart/related; type=application/octet-stream; transfer-syntax=*")
        middle = metadata[len(metadata) // 2]["00080018"]["Value"][0]
        get(f"/studies/{study}/series/{series}/instances/{middle}/rendered", "image/jpeg")
        get(f"/studies/{study}/series/{series}", 'multipart/related; type="application/dicom"; transfer-syntax=*')
    archive = zipfile.ZipFile(io.BytesIO(get(f"/studies/{study}", "application/zip").content))
    first = metadata[0]["00080018"]["Value"][0]
    for name, path, accept in (("metadata", f"/studies/{study}/series/{series}/metadata", None),
                               ("frame", f"/studies/{study}/series/{series}/instances/{first}/frames/1",
                                "multipart/related; type=application/octet-stream; transfer-syntax=*")):
        samples = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            get(path, accept)
            samples.append((time.perf_counter() - start) * 1000)
        timings[f"{name}_median_ms"] = round(statistics.median(samples), 1)
    return {name: archive.read(name) for name in archive.namelist()}, timings


def bucket_bytes(s3, bucket: str, study: str) -> tuple[int, int]:
    """(permanent, cached) bytes the bucket holds for one study (current versions)."""
    def size(prefix: str) -> int:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sum(o["Size"] for page in pages for o in page.get("Contents", []))

    permanent = size(f"dicom/{study}/") + size(f"wado/{study}/")
    return permanent, size(f"cache/dicom/{study}/") + size(f"cache/wado/{study}/")


def measure(api_url: str, token: str, s3, bucket: str, seed: int = 0) -> dict[str, dict]:
    """name -> received, permanent and cached bytes, their ratios, and whether the zip gave back
    every file byte for byte."""
    from pydicom import dcmread

    figures = {}
    for name, files in modality_series(seed).items():
        study = str(dcmread(io.BytesIO(files[0]), stop_before_pixels=True).StudyInstanceUID)
        started = time.perf_counter()
        store(api_url, token, files)
        store_seconds = round(time.perf_counter() - started, 2)
        returned, timings = read_like_viewers(api_url, token, study)
        permanent, cached = bucket_bytes(s3, bucket, study)
        received = sum(len(f) for f in files)
        figures[name] = {"instances": len(files), "received": received, "permanent": permanent, "cache": cached,
                         "permanent_ratio": round(permanent / received, 4), "cache_ratio": round(cached / received, 4),
                         "identical": sorted(returned.values()) == sorted(files), "store_seconds": store_seconds,
                         **timings}
    return figures


def main() -> int:
    """`python -m bench.storage [--out bench/results/storage.json]`: a local stack on free ports."""
    import argparse

    from devstack.bootstrap import aws_client
    from devstack.stack import LocalStack

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "storage.json"))
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        stack = LocalStack(Path(scratch) / "stack", emulator_port=0, api_port=0, persist=False)
        stack.start()
        try:
            figures = measure(stack.api_url, stack.token("alice"), aws_client("s3", stack.emulator_url),
                              f"obelisk-{stack.stage}-dicom")
        finally:
            stack.stop()
    Path(arguments.out).write_text(json.dumps(figures, indent=1) + "\n")
    print(json.dumps(figures, indent=1))
    return 0 if all(f["permanent_ratio"] <= 1.1 and f["identical"] for f in figures.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
