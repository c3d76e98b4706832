"""The locks (`make lock`: uv, for the Lambda runtime, infra/package.py) match the requirements they
were generated from: every pin of requirements.txt / requirements-reporting.txt is locked at its
version, every locked distribution carries hashes (the package build installs with
--require-hashes), and the two locks agree on what they share (one version per distribution)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAIRS = [("requirements.txt", "requirements.lock"), ("requirements-reporting.txt", "requirements-reporting.lock")]


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", line.strip())
        if match:
            found[normal(match[1])] = match[2]
    return found


def locked(path: Path) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes)."""
    entries: dict[str, tuple[str, int]] = {}
    current = None
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line)
        if match:
            current = normal(match[1])
            entries[current] = (match[2], 0)
        elif current and "--hash=sha256:" in line:
            version, count = entries[current]
            entries[current] = (version, count + line.count("--hash=sha256:"))
    return entries


@pytest.mark.parametrize(("requirements", "lock"), PAIRS)
def test_every_pin_is_locked_at_its_version_with_hashes(requirements, lock):
    lock_entries = locked(ROOT / lock)
    for name, version in pins(ROOT / requirements).items():
        assert name in lock_entries, f"{name} is pinned in {requirements} but not in {lock}: run `make lock`"
        assert lock_entries[name][0] == version, f"{name}: {requirements} pins {version}, {lock} has " \
                                                 f"{lock_entries[name][0]}: run `make lock`"
    assert all(count > 0 for _, count in lock_entries.values()), lock


def test_the_two_locks_agree_on_shared_distributions():
    main, reporting = locked(ROOT / "requirements.lock"), locked(ROOT / "requirements-reporting.lock")
    assert {n: main[n][0] for n in main.keys() & reporting.keys()} == \
           {n: reporting[n][0] for n in main.keys() & reporting.keys()}
