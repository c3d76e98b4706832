"""The Lambda package, built once per test session exactly as `make package` and `make deploy`
build it (infra.deploy.package), and unpacked into an empty folder as Lambda unpacks it: the
function into /var/task, the layer into /opt (its `python/` folder on the path)."""
from __future__ import annotations

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
def built_package(tmp_path_factory) -> package_build.Package:
    return deploy.package("dev", tmp_path_factory.mktemp("package") / "dev")


@pytest.fixture(scope="session")
def unpacked(built_package, tmp_path_factory) -> Unpacked:
    root = tmp_path_factory.mktemp("lambda")
    task, opt = root / "task", root / "opt"
    with zipfile.ZipFile(built_package.function_zip) as archive:
        archive.extractall(task)
    with zipfile.ZipFile(built_package.layer_zip) as archive:
        archive.extractall(opt)
    return Unpacked(built_package, task, opt)
