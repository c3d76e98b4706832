"""Orthanc with the DICOMweb plugin, from Debian packages, as a subprocess of the bench."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from devstack.stack import free_port, wait_for

PACKAGES = ("orthanc", "orthanc-dicomweb")


def install() -> None:
    """apt-get installs Orthanc and its DICOMweb plugin when missing (the bench runs as root)."""
    missing = [p for p in PACKAGES if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode]
    if not missing:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], env=env, check=True, stdout=subprocess.DEVNULL)


def plugin_path() -> str:
    files = subprocess.run(["dpkg", "-L", "orthanc-dicomweb"], capture_output=True, text=True, check=True).stdout
    candidates = [f for f in files.split() if "libOrthancDicomWeb.so" in f and "/plugins/" in f]
    candidates += [f for f in files.split() if "libOrthancDicomWeb.so" in f]
    return candidates[0]


def version() -> str:
    out = subprocess.run(["Orthanc", "--version"], capture_output=True, text=True).stdout
    return out.splitlines()[0].strip() if out else "unknown"


class Orthanc:
    def __init__(self, scratch: Path):
        self.dir = scratch.resolve()
        self.port = 0
        self.process: subprocess.Popen | None = None

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dicomweb(self) -> str:
        return self.root + "/dicom-web"

    def start(self) -> Orthanc:
        shutil.rmtree(self.dir, ignore_errors=True)
        (self.dir / "storage").mkdir(parents=True)
        self.port = free_port()
        config = {
            "Name": "obelisk-bench",
            "StorageDirectory": str(self.dir / "storage"),
            "IndexDirectory": str(self.dir / "storage"),
            "HttpPort": self.port,
            "RemoteAccessAllowed": False,  # Orthanc 1.10 has no bind address: this refuses non-loopback clients
            "AuthenticationEnabled": False,
            "DicomServerEnabled": False,
            "WebDavEnabled": False,
            "Plugins": [plugin_path()],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        }
        path = self.dir / "config.json"
        path.write_text(json.dumps(config, indent=2))
        log = open(self.dir / "orthanc.log", "ab")
        self.process = subprocess.Popen(["Orthanc", str(path)], cwd=self.dir, stdout=log, stderr=subprocess.STDOUT)
        wait_for(self.root + "/system", process=self.process)
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
