"""UID validation, the one home for it: `^(0|[1-9]\\d*)(\\.(0|[1-9]\\d*))+$`, at most 64 chars."""
from __future__ import annotations

import re

from chalicelib.errors import BadRequest

_UID = re.compile(r"^(0|[1-9]\d*)(\.(0|[1-9]\d*))+$")


def is_valid_uid(value: str | None) -> bool:
    return bool(value) and len(value) <= 64 and bool(_UID.match(value))


def require_uid(value: str | None, name: str) -> str:
    if not is_valid_uid(value):
        raise BadRequest(f"{name} is not a valid UID.")
    return value
