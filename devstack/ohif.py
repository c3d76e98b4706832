"""Builds the OHIF site: the prebuilt `@ohif/app` package from the npm registry (version and
integrity pinned in `ohif/ohif.lock.json`), plus Obelisk's generated `app-config.js`."""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OHIF = ROOT / "ohif"
DIST = OHIF / "dist"
CACHE = ROOT / ".obelisk-cache"
# Netlify's configuration files, shipped in OHIF's package: served from S3 they would be pages of
# their own (the sites' viewer-request function sends extension-less paths to index.html).
NETLIFY_FILES = ("_headers", "_redirects")


def _lock() -> dict:
    return json.loads((OHIF / "ohif.lock.json").read_text())


def _tarball() -> Path:
    lock = _lock()
    CACHE.mkdir(exist_ok=True)
    name = lock["package"].lstrip("@").replace("/", "-") + f"-{lock['version']}.tgz"
    path = CACHE / name
    if not path.exists():  # packed aside, then moved in whole: parallel test workers may fetch it at once
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            subprocess.run(["npm", "pack", f"{lock['package']}@{lock['version']}", "--pack-destination", tmp,
                            "--silent"], check=True, stdout=subprocess.DEVNULL)
            os.replace(Path(tmp) / name, path)
    algorithm, expected = lock["integrity"].split("-", 1)
    actual = base64.b64encode(hashlib.new(algorithm, path.read_bytes()).digest()).decode()
    if actual != expected:
        path.unlink()
        raise SystemExit(f"{name}: integrity mismatch (expected {expected}, got {actual})")
    return path


def build(api_url: str, dist: Path = DIST) -> Path:
    """OHIF's files in `dist`, configured for the API at `api_url`."""
    lock = _lock()
    stamp = dist / ".obelisk-version"
    if not stamp.exists() or stamp.read_text() != lock["version"]:
        with tempfile.TemporaryDirectory() as tmp:
            with tarfile.open(_tarball()) as archive:
                archive.extractall(tmp, filter="data")
            shutil.rmtree(dist, ignore_errors=True)
            shutil.move(str(Path(tmp) / "package" / "dist"), dist)
        stamp.write_text(lock["version"])
    for netlify_only in NETLIFY_FILES:  # empty in the package; our headers come from devstack/site_headers.py
        (dist / netlify_only).unlink(missing_ok=True)
    template = (OHIF / "app-config.template.js").read_text()
    (dist / "app-config.js").write_text(template.replace("__API_URL__", api_url.rstrip("/")))
    # what the static server (and CloudFront, through devstack/site_headers.py) build the CSP from
    (dist / "obelisk-site.json").write_text(json.dumps({"api_url": api_url.rstrip("/")}) + "\n")
    return dist


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--api-url", default="http://127.0.0.1:3000/api")
    args = parser.parse_args(argv)
    print(build(args.api_url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
