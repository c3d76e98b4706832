"""Deprecated: use the installed command `obelisk upload` (docs/upload.md). This shim translates
the old flags (`--api`, `--token`) to the new ones (`--url`, `--bearer-token`) and runs it.

    python obelisk_upload.py --api URL --token TOKEN [--album ID] [--quiet] FILE|DIR...
"""
from __future__ import annotations

import sys

from obelisk_cli.main import main as obelisk

RENAMED = {"--api": "--url", "--token": "--bearer-token"}


def main(argv: list[str] | None = None) -> int:
    print("obelisk_upload.py is deprecated: use `obelisk upload --url URL --bearer-token TOKEN PATH...`",
          file=sys.stderr)
    args = [RENAMED.get(arg, arg) for arg in (sys.argv[1:] if argv is None else argv)]
    return obelisk(["upload", *args])


if __name__ == "__main__":
    sys.exit(main())
