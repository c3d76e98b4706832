"""A Lambda cold start imports the app module: the heavy DICOM stack (pydicom, numpy, highdicom)
is imported by the code that uses it, so routes without DICOM (tokens, albums, users) never load
it. Import time itself is measured in `make bench`, not here."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_loading_the_app_does_not_import_the_dicom_stack():
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, app; print(' '.join(sorted(m for m in ('pydicom', 'numpy', 'highdicom', "
                               "'PIL') if m in sys.modules)))"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env={"OBELISK_STAGE": "unit", "PATH": "/usr/bin:/bin"})
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == ""
