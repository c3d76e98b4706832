"""Command-line STOW-RS uploader with a progress bar. Small batches go straight to
`POST /api/studies`; bodies past the gateway limit go through the large-upload flow
(`POST /api/uploads`, a presigned PUT to S3, then polling for the STOW response).

    python obelisk_upload.py --api http://127.0.0.1:8000/api --token TOKEN [--album ID] FILE|DIR...
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import requests
from tqdm import tqdm

# Lambda takes events of at most 6 MiB, and a STOW body is base64-encoded in it (4/3 of its size):
# past ~4.5 MiB the body goes through the large-upload path (docs/dicomweb.md, "Large uploads").
DIRECT_LIMIT = 4 * 1024 * 1024
CHUNK = 256 * 1024


def dicom_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        files += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return files


class MultipartBody:
    """A multipart/related body of Part-10 files, read lazily with a progress bar (requests
    streams any object with `read` and `__len__`)."""

    def __init__(self, files: list[Path], progress: bool):
        self.boundary = f"obelisk-{uuid.uuid4().hex}"
        self.content_type = f'multipart/related; type="application/dicom"; boundary={self.boundary}'
        self._pieces = []
        for path in files:
            self._pieces.append(f"--{self.boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode())
            self._pieces.append(path)
            self._pieces.append(b"\r\n")
        self._pieces.append(f"--{self.boundary}--\r\n".encode())
        self.size = sum(p.stat().st_size if isinstance(p, Path) else len(p) for p in self._pieces)
        self._chunks = self._iterate()
        self._buffer = b""
        self.bar = tqdm(total=self.size, unit="B", unit_scale=True, disable=not progress, file=sys.stderr)

    def __len__(self) -> int:
        return self.size

    def _iterate(self) -> Iterator[bytes]:
        for piece in self._pieces:
            if isinstance(piece, bytes):
                yield piece
                continue
            with piece.open("rb") as handle:
                while chunk := handle.read(CHUNK):
                    yield chunk

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        out, self._buffer = (self._buffer, b"") if size < 0 else (self._buffer[:size], self._buffer[size:])
        self.bar.update(len(out))
        return out


def upload(api: str, token: str, files: list[Path], album: str | None = None, progress: bool = True,
           timeout: float = 600) -> tuple[int, dict]:
    """Stores the files; returns (STOW status, STOW response body)."""
    body = MultipartBody(files, progress)
    headers = {"Authorization": f"Bearer {token}"}
    params = {"album": album} if album else {}
    try:
        if body.size <= DIRECT_LIMIT:
            answer = requests.post(f"{api}/studies", params=params, data=body, timeout=timeout,
                                   headers={**headers, "Content-Type": body.content_type,
                                            "Accept": "application/dicom+json"})
            return answer.status_code, answer.json() if answer.content else {}
        started = requests.post(f"{api}/uploads", params=params, json={"content_type": body.content_type},
                                headers=headers, timeout=60)
        started.raise_for_status()
        ticket = started.json()
        put = requests.put(ticket["upload_url"], data=body, headers={"Content-Type": body.content_type},
                           timeout=timeout)
        put.raise_for_status()
    finally:
        body.bar.close()
    return _wait(ticket["status_url"], headers, timeout)


def _wait(status_url: str, headers: dict, timeout: float) -> tuple[int, dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = requests.get(status_url, headers=headers, timeout=60)
        if answer.status_code != 202 or answer.json().get("status") != "pending":
            return answer.status_code, answer.json()
        time.sleep(float(answer.headers.get("Retry-After", "1")))
    raise TimeoutError(f"the upload was not ingested within {timeout}s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--api", default=os.environ.get("OBELISK_API", "http://127.0.0.1:8000/api"))
    parser.add_argument("--token", default=os.environ.get("OBELISK_TOKEN"), required="OBELISK_TOKEN" not in os.environ)
    parser.add_argument("--album")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args(argv)
    status, body = upload(args.api.rstrip("/"), args.token, dicom_files(args.paths), args.album, not args.quiet)
    print(json.dumps({"status": status, "response": body}))
    return 0 if status in (200, 202) else 1


if __name__ == "__main__":
    sys.exit(main())
