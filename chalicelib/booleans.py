"""The one reading of boolean parameters (query and form): `true`/`false` in any letter case,
spaces around ignored, as KHEOPS's Java parsing accepts them (`favorite=True`, `TRUE`...).
Anything else is a 400 in the documented error shape."""
from __future__ import annotations

from chalicelib.errors import BadQueryParameter, BadRequest


def parse(value: str | None, name: str, default: bool | None = None,
          error: type[BadRequest] = BadQueryParameter) -> bool | None:
    """`value` as a boolean; `default` when it is absent (None)."""
    if value is None:
        return default
    word = value.strip().lower()
    if word not in ("true", "false"):
        raise error(f"{name} must be true or false")
    return word == "true"
