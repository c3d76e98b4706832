"""The Lambda package, built once per test run exactly as `make package` and `make deploy`
build it (infra.deploy.package; under pytest-xdist the first worker that needs it builds it and
the others reuse that build), and unpacked into an empty folder as Lambda unpacks it: the
function into /var/task, the layer into /opt (its `python/` folder on the path)."""
from __future__ import annotations

import dataclasses
import fcntl
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra import deploy
from infra import package as package_build


@dataclass
class Unpacked:
    built: package_build.Package
    task: Path  # /var/task
    opt: Path  # /opt

    @property
    def paths(self) -> list[Path]:
        return [self.task, self.opt / "python"]


@pytest.fixture(scope="session")
def built_package(tmp_path_factory, worker_id) -> package_build.Package:
    """One build per run (about a minute of CPU): the workers of a run share the folder above
    their own temporary folders, and a lock makes the others wait for the first one's build."""
    run_folder = tmp_path_factory.getbasetemp()
    shared = run_folder if worker_id == "master" else run_folder.parent
    built = shared / "package.json"
    with open(shared / "package.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not built.exists():
            made = deploy.package("dev", shared / "package" / "dev")
            built.write_text(json.dumps({k: str(v) for k, v in dataclasses.asdict(made).items()}))
        return package_build.Package(**{k: Path(v) for k, v in json.loads(built.read_text()).items()})


@pytest.fixture(scope="session")
def unpacked(built_package, tmp_path_factory) -> Unpacked:
    root = tmp_path_factory.mktemp("lambda")
    task, opt = root / "task", root / "opt"
    with zipfile.ZipFile(built_package.function_zip) as archive:
        archive.extractall(task)
    with zipfile.ZipFile(built_package.layer_zip) as archive:
        archive.extractall(opt)
    return Unpacked(built_package, task, opt)
