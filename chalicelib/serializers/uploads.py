"""Large uploads' answers (docs/upload.md): a started upload (its presigned PUT, or the parts of a
multipart upload), and what S3 holds of one (resuming). The STOW answer an ingested upload gives
is the STOW-RS document (`dicom/stow.py`)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Upload:
    """A started upload: one presigned PUT (`upload_url`), or the parts of a multipart upload."""
    upload_id: str
    upload_url: str | None
    content_type: str
    part_size: int | None = None
    part_urls: list[str] = field(default_factory=list)


@dataclass
class Progress:
    """What S3 holds of a multipart upload: the parts received, and fresh URLs for the missing ones."""
    upload_id: str
    size: int
    part_size: int
    completed: bool
    received: list[dict]
    missing_urls: list[tuple[int, str]]


def pending() -> dict:
    """An upload whose ingest has not finished (202)."""
    return {"status": "pending"}


def _parts(numbered) -> list[dict]:
    return [{"part_number": n, "url": url} for n, url in numbered]


def started(upload: Upload, status_url: str) -> dict:
    """`POST /uploads`: where to PUT the body (`upload_url`), or its parts and where to complete them."""
    answer = {"upload_id": upload.upload_id, "content_type": upload.content_type, "status_url": status_url}
    if upload.part_size is None:
        answer["upload_url"] = upload.upload_url
    else:
        answer.update(part_size=upload.part_size, complete_url=f"{status_url}/complete",
                      parts=_parts(enumerate(upload.part_urls, 1)))
    return answer


def progress(held: Progress, status_url: str) -> dict:
    """`GET /uploads/{id}/parts`: the parts S3 holds, and fresh URLs for the missing ones."""
    return {
        "upload_id": held.upload_id, "size": held.size, "part_size": held.part_size,
        "status": "completed" if held.completed else "uploading",
        "received": held.received, "received_bytes": sum(p["size"] for p in held.received),
        "parts": _parts(held.missing_urls),
        "status_url": status_url, "complete_url": f"{status_url}/complete"}
