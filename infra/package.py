"""The Lambda artefacts `make package` and `make deploy` build, for a runtime chosen here rather
than inherited from whoever deploys:

- `deployment.zip`: the app code (a clean copy: no __pycache__, no tests) and the runtime
  dependencies of `requirements.lock`, installed from manylinux wheels for RUNTIME only (never
  compiled on this machine, never this machine's libraries);
- `reporting-layer.zip`: the `reporting` Lambda layer (`requirements-reporting.lock`: highdicom,
  fhir.resources and what only they need), under `python/` as layers are laid out in /opt;
- `sam.yaml`: `chalice package --merge-template` output with the runtime and the layer set.

The deploy path is CloudFormation with the code in S3 (infra/deploy.py), whose limit is 250 MB
unzipped for a function and its layers together (the 50 MB zipped limit applies only to a direct
upload, which Obelisk does not use). `python -m infra.package lock` regenerates both locks.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = "python3.12"  # Lambda's python3.12 runs on Amazon Linux 2023 (glibc 2.34)
PYTHON_VERSION = RUNTIME.removeprefix("python")
# Every manylinux tag glibc 2.34 accepts (pip does not expand one tag to the older ones).
PLATFORMS = [f"{tag}_x86_64" for tag in ("manylinux_2_34", "manylinux_2_31", "manylinux_2_28", "manylinux_2_27",
                                         "manylinux_2_24", "manylinux_2_17", "manylinux2014", "manylinux2010",
                                         "manylinux1")]
UV_PLATFORM = "x86_64-manylinux_2_34"
LOCK = ROOT / "requirements.lock"
REPORTING_LOCK = ROOT / "requirements-reporting.lock"
UNZIPPED_LIMIT = 250 * 1024 * 1024  # function code and all its layers, unzipped (Lambda quota)
APP_SOURCES = ["app.py", "chalicelib"]
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".pytest_cache", ".DS_Store")
CHALICE = [sys.executable, "-c", "from chalice.cli import main; main()"]


@dataclass
class Package:
    folder: Path
    function_zip: Path
    layer_zip: Path
    template: Path


def lock() -> None:
    """Regenerates the locks (hashes of every wheel of each pinned version) for RUNTIME."""
    common = [sys.executable, "-m", "uv", "pip", "compile", "--python-version", PYTHON_VERSION,
              "--python-platform", UV_PLATFORM, "--generate-hashes", "--index-url", "https://pypi.org/simple",
              "--no-header", "--quiet"]
    subprocess.run([*common, "requirements.txt", "-o", LOCK.name], cwd=ROOT, check=True)
    subprocess.run([*common, "requirements-reporting.txt", "-c", LOCK.name, "-o", REPORTING_LOCK.name],
                   cwd=ROOT, check=True)


def install(lock_file: Path, target: Path) -> None:
    """The lock's wheels for RUNTIME's platform, hashes checked, nothing built from source."""
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile",
                    "--require-hashes", "--only-binary=:all:", *(f"--platform={p}" for p in PLATFORMS),
                    "--python-version", PYTHON_VERSION, "--implementation", "cp", "--target", str(target),
                    "-r", str(lock_file)], check=True)
    shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts: nothing runs them in Lambda


def distributions(folder: Path) -> dict[str, Path]:
    """Normalised distribution name -> its .dist-info folder."""
    out = {}
    for info in folder.glob("*.dist-info"):
        name = info.name.removesuffix(".dist-info").rsplit("-", 1)[0]
        out[name.lower().replace("_", "-").replace(".", "-")] = info
    return out


def remove_distribution(folder: Path, info: Path) -> None:
    """Deletes every file a wheel installed (its RECORD), then its emptied folders."""
    for line in (info / "RECORD").read_text().splitlines():
        path = folder / line.split(",", 1)[0]
        if path.is_file():
            path.unlink()
    for directory in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(directory.iterdir()):
            directory.rmdir()


def write_zip(source: Path, destination: Path, prefix: str = "") -> None:
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for path in sorted(source.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                info = zipfile.ZipInfo(prefix + path.relative_to(source).as_posix(), date_time=(2020, 1, 1, 0, 0, 0))
                info.external_attr = (path.stat().st_mode & 0o777 | 0o100000) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())


def app_copy(stage_dir: Path) -> None:
    """The app as Chalice packages it: code and .chalice/, and no requirements (Chalice's own
    packager would build them for the deploying interpreter)."""
    for name in APP_SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, stage_dir / name, ignore=IGNORED)
        else:
            shutil.copy2(source, stage_dir / name)
    shutil.copytree(ROOT / ".chalice", stage_dir / ".chalice", ignore=shutil.ignore_patterns("deployments", "deployed"))
    (stage_dir / "requirements.txt").write_text("")


def build(stage: str, out: Path, merge_template: Path, env: dict[str, str]) -> Package:
    """Builds the three artefacts into `out` (emptied first)."""
    if out.exists():
        shutil.rmtree(out)
    work = out.parent / f"{out.name}-work"
    if work.exists():
        shutil.rmtree(work)
    source, function, layer = work / "app", work / "function", work / "layer" / "python"
    source.mkdir(parents=True)
    app_copy(source)
    subprocess.run([*CHALICE, "package", "--stage", stage, "--template-format", "yaml",
                    "--merge-template", str(merge_template), str(out)],
                   cwd=source, env=env, check=True, stdout=subprocess.DEVNULL)
    with zipfile.ZipFile(out / "deployment.zip") as chalice_zip:
        chalice_zip.extractall(function)  # the app code, as Chalice lays it out
    install(LOCK, function)
    install(REPORTING_LOCK, layer)
    shared = distributions(function)
    for name, info in distributions(layer).items():
        if name in shared:
            remove_distribution(layer, info)
    write_zip(function, out / "deployment.zip")
    write_zip(layer.parent, out / "reporting-layer.zip")
    shutil.rmtree(work)
    return Package(out, out / "deployment.zip", out / "reporting-layer.zip", out / "sam.yaml")


def unzipped_size(*archives: Path) -> int:
    total = 0
    for archive in archives:
        with zipfile.ZipFile(archive) as z:
            total += sum(i.file_size for i in z.infolist())
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["lock"])
    parser.parse_args(argv)
    lock()
    return 0


if __name__ == "__main__":
    sys.exit(main())
