"""The built Lambda package (tests/infra/conftest.py builds it as `make deploy` does) holds the
imaging code for the runtime chosen in infra/package.py, python3.12 on Amazon Linux 2023
(glibc 2.34): numpy, Pillow with its libraries bundled, the pylibjpeg plugins, all from wheels
whose platform tags that runtime accepts; reporting's SR/FHIR libraries in the layer only; nothing
from the working tree's caches nor any test-only library; and it fits the deploy path
(CloudFormation with the code in S3: 250 MB unzipped for a function and its layers)."""
from __future__ import annotations

import re
import subprocess
import zipfile

import yaml

from infra import package as package_build

MIB = 1024 * 1024
GLIBC = (2, 34)
# Libraries a manylinux wheel may take from the system (PEP 599/600 policy), all in Amazon Linux 2023.
SYSTEM_LIBRARIES = {"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libgcc_s.so.1",
                    "libstdc++.so.6", "ld-linux-x86-64.so.2", "libz.so.1", "libutil.so.1", "libcrypt.so.1"}
TEST_ONLY = {"moto", "pytest", "dicomweb_client", "playwright", "hypothesis", "schemathesis", "yappi",
             "matplotlib", "pydicom_data", "tests", "devstack", "bench", "flask"}


def wheel_tags(folder) -> dict[str, list[str]]:
    tags = {}
    for wheel in folder.glob("*.dist-info/WHEEL"):
        tags[wheel.parent.name] = [line.split(":", 1)[1].strip() for line in wheel.read_text().splitlines()
                                   if line.startswith("Tag:")]
    return tags


def runtime_accepts(tag: str) -> bool:
    python, abi, platform = tag.split("-")
    if platform == "any":
        return python in ("py3", "py2.py3", "cp312") and abi in ("none", "abi3", "cp312")
    if python not in ("cp312", "cp32", "cp38", "cp39", "cp310", "cp311", "py3") or abi not in ("cp312", "abi3", "none"):
        return False
    if abi == "abi3" and python not in ("cp32", "cp38", "cp39", "cp310", "cp311", "cp312"):
        return False
    legacy = {"manylinux1_x86_64": (2, 5), "manylinux2010_x86_64": (2, 12), "manylinux2014_x86_64": (2, 17)}
    if platform in legacy:
        return legacy[platform] <= GLIBC
    match = re.fullmatch(r"manylinux_(\d+)_(\d+)_x86_64", platform)
    return bool(match) and (int(match[1]), int(match[2])) <= GLIBC


def test_functions_run_the_chosen_runtime_and_only_the_api_function_has_the_reporting_layer(unpacked):
    resources = yaml.safe_load(unpacked.built.template.read_text())["Resources"]
    functions = {n: r for n, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    assert {r["Properties"]["Runtime"] for r in functions.values()} == {"python3.12"}
    assert {n for n, r in functions.items() if r["Properties"].get("Layers")} == {"APIHandler"}
    assert resources["ReportingLayer"]["Properties"]["CompatibleRuntimes"] == ["python3.12"]


def test_every_wheel_carries_a_platform_tag_the_runtime_accepts(unpacked):
    for folder in unpacked.paths:
        for dist, tags in wheel_tags(folder).items():
            assert tags and any(runtime_accepts(t) for t in tags), (dist, tags)


def test_imaging_code_is_present_for_the_runtime(unpacked):
    task = unpacked.task
    assert list((task / "numpy" / "_core").glob("_multiarray_umath.cpython-312-x86_64-linux-gnu.so"))
    assert list((task / "PIL").glob("_imaging.cpython-312-x86_64-linux-gnu.so"))
    for plugin in ("libjpeg", "openjpeg", "rle"):
        assert (task / plugin).is_dir(), plugin
    entry_points = "".join(p.read_text() for p in task.glob("pylibjpeg_*.dist-info/entry_points.txt"))
    for decoder in ("libjpeg", "openjpeg", "rle"):  # pylibjpeg finds its plugins by these entry points
        assert f"={decoder}:decode_pixel_data" in entry_points.replace(" ", ""), decoder
    for name in ("highdicom", "fhir", "pydantic"):
        assert not (task / name).exists(), f"{name} belongs in the reporting layer"
        assert (unpacked.opt / "python" / name).is_dir(), name


def test_stow_bodies_are_decoded_by_native_code_on_the_runtime(unpacked):
    """pybase64 falls back to the standard library's decode (25x slower on a STOW body) when its
    extension is missing: the package carries the extension built for the runtime."""
    assert list((unpacked.task / "pybase64").glob("_pybase64.cpython-312-x86_64-linux-gnu.so"))


def test_object_checksums_are_computed_by_native_code_on_the_runtime(unpacked):
    """The CRC32 of every object a STOW writes is ISA-L's (`s3_put.crc32`): the package carries
    its extension built for the runtime."""
    assert list((unpacked.task / "isal").glob("isal_zlib.cpython-312-x86_64-linux-gnu.so"))


def test_pillow_links_only_its_bundled_libraries_and_the_system_baseline(unpacked):
    for module in (unpacked.task / "PIL").glob("*.so"):
        dynamic = subprocess.run(["readelf", "-d", str(module)], capture_output=True, text=True, check=True).stdout
        needed = re.findall(r"\(NEEDED\).*\[(.+?)\]", dynamic)
        bundled = {p.name for p in (unpacked.task / "pillow.libs").iterdir()}
        for library in needed:
            assert library in bundled or library in SYSTEM_LIBRARIES, (module.name, library)
    assert any(p.name.startswith("libjpeg") for p in (unpacked.task / "pillow.libs").iterdir())


def test_package_fits_the_deploy_path_and_carries_nothing_from_the_working_tree(unpacked):
    built = unpacked.built
    total = package_build.unzipped_size(built.function_zip, built.layer_zip)
    print(f"function {package_build.unzipped_size(built.function_zip) / MIB:.1f} MiB unzipped "
          f"({built.function_zip.stat().st_size / MIB:.1f} zipped), layer "
          f"{package_build.unzipped_size(built.layer_zip) / MIB:.1f} MiB ({built.layer_zip.stat().st_size / MIB:.1f} zipped)")
    assert total < package_build.UNZIPPED_LIMIT
    for archive in (built.function_zip, built.layer_zip):
        names = zipfile.ZipFile(archive).namelist()
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")], archive.name
        assert not {n.split("/")[0] for n in names} & TEST_ONLY, archive.name
