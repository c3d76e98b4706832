"""UID validation, the one home for it: `^(0|[1-9]\\d*)(\\.(0|[1-9]\\d*))+$`. The standard's bound is 64
characters (`is_valid_uid`); real archives hold longer UIDs, and Obelisk keys and stores any UID
of that form up to `MAX_KEYABLE_LENGTH` characters (`is_keyable_uid`, docs/dicomweb.md)."""
from __future__ import annotations

import re

from chalicelib.errors import BadRequest

_UID = re.compile(r"^(0|[1-9]\d*)(\.(0|[1-9]\d*))+$")
# The longest key built from UIDs is an S3 object key (1024 bytes): `wado/{study}/{series}/{sop}/{gen}/`
# and a bulk-data path; three UIDs of 128 and a generation leave over 600 bytes for the rest. DynamoDB sort keys
# (1024 bytes) hold at most two UIDs and a prefix.
MAX_KEYABLE_LENGTH = 128


def is_valid_uid(value: str | None) -> bool:
    return bool(value) and len(value) <= 64 and bool(_UID.match(value))


def is_keyable_uid(value: str | None) -> bool:
    """A UID of the standard's form, of any length Obelisk can key (PS3.5 9.1 says 64; archives
    hold longer)."""
    return bool(value) and len(value) <= MAX_KEYABLE_LENGTH and bool(_UID.match(value))


def has_uid_form(value: str | None) -> bool:
    return bool(value) and bool(_UID.match(value))


def require_uid(value: str | None, name: str) -> str:
    if not is_keyable_uid(value):
        raise BadRequest(f"{name} is not a valid UID.")
    return value
