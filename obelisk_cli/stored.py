"""What the server already holds: the SOP Instance UIDs of a study the caller can read (QIDO-RS,
paged), so that a resumed upload or import sends nothing twice."""
from __future__ import annotations

from obelisk_cli.http import Server

SOP_INSTANCE_UID = "00080018"
PAGE = 1000


def stored_instances(server: Server, study_uid: str, album: str | None = None) -> set[str]:
    """SOP Instance UIDs of `study_uid` on the server (in `album` when given); empty when unknown."""
    found: set[str] = set()
    offset = 0
    while True:
        params = {"includefield": SOP_INSTANCE_UID, "limit": PAGE, "offset": offset}
        if album:
            params["album"] = album
        answer = server.request("GET", f"/studies/{study_uid}/instances", params=params,
                                headers={"Accept": "application/dicom+json"})
        if answer.status_code in (204, 404) or not answer.content:
            return found
        answer.raise_for_status()
        page = answer.json()
        found.update(str(item[SOP_INSTANCE_UID]["Value"][0]) for item in page
                     if item.get(SOP_INSTANCE_UID, {}).get("Value"))
        if not page:
            return found
        offset += len(page)
