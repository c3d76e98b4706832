"""The migrations command an operator runs after an upgrade (docs/deploy.md, Upgrade):
`--dry-run` reports what it would change and changes nothing, and series no album holds (orphans)
are deleted only when the operator asks for it with `--purge-orphans`."""
from __future__ import annotations

import subprocess
import sys

import pytest

from devstack.in_process import service_layer
from devstack.stack import ROOT
from tests.integration.dicom_samples import load, part10
from tests.support import api

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
BOUNDARY = "migrations-boundary"


def migrations(stack, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "chalicelib.store.migrations", *args], env=stack.api_environment(),
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def series_stored(stack, study: str, series: str) -> bool:
    with service_layer(stack):
        from chalicelib.store.models import SeriesRecord

        try:
            SeriesRecord.get(*SeriesRecord.key(study, series), consistent_read=True)
            return True
        except SeriesRecord.DoesNotExist:
            return False


@pytest.fixture(scope="module")
def orphan(stack, tokens) -> tuple[str, str]:
    """A stored series whose shares are gone, as series were left before purging existed."""
    alice = api.signed_in(stack, tokens, names=("alice",))["alice"]
    ds = load("CT_small.dcm")
    body = (f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode() + part10(ds)
            + f"\r\n--{BOUNDARY}--\r\n".encode())
    stored = alice.post("/studies", data=body, headers={
        "Content-Type": f'multipart/related; type="application/dicom"; boundary={BOUNDARY}',
        "Accept": "application/dicom+json"})
    assert stored.status_code == 200, stored.text
    study, series = str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)
    with service_layer(stack):
        from chalicelib.store.models import SeriesShare

        for share in SeriesShare.by_study.query(study):
            share.delete()
    assert series_stored(stack, study, series)
    return study, series


def test_dry_run_reports_the_orphans_and_deletes_nothing(stack, orphan):
    report = migrations(stack, "--dry-run", "--purge-orphans")
    purged = next(line for line in report.splitlines() if line.startswith("orphan series would be purged"))
    assert int(purged.rsplit(":", 1)[1]) >= 1
    assert series_stored(stack, *orphan)


def test_orphans_are_kept_unless_the_purge_is_asked_for(stack, orphan):
    report = migrations(stack)
    assert "not purged (--purge-orphans deletes them)" in report
    assert series_stored(stack, *orphan)
    report = migrations(stack, "--purge-orphans")
    assert int(next(line for line in report.splitlines() if line.startswith("orphan series purged")).rsplit(":", 1)[1]) >= 1
    assert not series_stored(stack, *orphan)
