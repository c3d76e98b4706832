"""A report provider as KHEOPS answers it (docs/kheops-compatibility.md §11)."""
from __future__ import annotations

from chalicelib.store.models import ReportProvider


def provider(provider: ReportProvider) -> dict:
    return {"name": provider.name, "url": provider.url, "client_id": provider.client_id,
            "album_id": provider.album_id, "created_time": provider.created_time}
