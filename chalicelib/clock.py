"""Time and identifiers, in the formats the KHEOPS API uses."""
from __future__ import annotations

import secrets
import string
from datetime import UTC, datetime

_ALPHANUMERIC = string.ascii_letters + string.digits


def now() -> datetime:
    return datetime.now(UTC)


def utc_iso(moment: datetime | None = None) -> str:
    """`2024-01-01T10:00:00Z`, as capabilities and webhook attempts are written."""
    return (moment or now()).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_iso(moment: datetime | None = None) -> str:
    """Zone-less ISO with milliseconds, as albums and events are written (always UTC here)."""
    return (moment or now()).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def random_id(length: int) -> str:
    """Ids and secrets: `[A-Za-z0-9]{length}` from the OS's CSPRNG."""
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))
