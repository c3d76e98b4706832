"""Writes `docs/openapi.yaml` from the app's route table: `python -m devstack.openapi`."""
from __future__ import annotations

import os
import sys

import yaml

from devstack.stack import ROOT


def render() -> str:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ["OBELISK_PUBLIC_URL"] = "https://obelisk.example.org"
    sys.path.insert(0, str(ROOT))
    from app import app
    from chalicelib import config
    from chalicelib.api.openapi import build_document

    config.reset()
    return yaml.safe_dump(build_document(app), sort_keys=False, width=110)


if __name__ == "__main__":
    (ROOT / "docs" / "openapi.yaml").write_text(render())
