"""A KHEOPS user's albums, read through the KHEOPS API of the source and recreated here: name,
description, the six settings, members (by e-mail, when they have an account here; admins stay
admins) and which series each album holds. `albums.json` in the work folder remembers which album
was created for which, so a second run completes the first instead of duplicating it."""
from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from obelisk_cli.download import SERIES_UID, STUDY_UID, qido, uid
from obelisk_cli.http import Server

# KHEOPS AlbumResponse keys -> POST /albums form fields (docs/kheops-compatibility.md).
SETTINGS = {"add_user": "addUser", "download_series": "downloadSeries", "send_series": "sendSeries",
            "delete_series": "deleteSeries", "add_series": "addSeries", "write_comments": "writeComments"}


@dataclass
class Album:
    source_id: str
    name: str
    description: str
    settings: dict[str, bool]
    members: list[tuple[str, bool]] = field(default_factory=list)  # (email, is_admin)
    series: list[tuple[str, str]] = field(default_factory=list)  # (study, series)


def read_albums(source: Server) -> list[Album]:
    """Every album the token's user is a member of, with its members and series."""
    albums = []
    for item in _paged(source, "/albums"):
        album = Album(str(item["album_id"]), item.get("name", ""), item.get("description") or "",
                      {key: bool(item.get(key)) for key in SETTINGS})
        album.members = [(u["email"], bool(u.get("is_admin"))) for u in _paged(source, f"/albums/{album.source_id}/users")
                         if u.get("email")]
        for study in qido(source, "/studies", {"album": album.source_id}):
            st = uid(study, STUDY_UID)
            album.series += [(st, uid(s, SERIES_UID))
                             for s in qido(source, f"/studies/{st}/series", {"album": album.source_id})]
        albums.append(album)
    return albums


def _paged(server: Server, path: str) -> list[dict]:
    found: list[dict] = []
    while True:
        answer = server.request("GET", path, params={"limit": 100, "offset": len(found)},
                                headers={"Accept": "application/json"})
        if answer.status_code in (204, 403):  # 403: the user may not list this album's members
            return found
        answer.raise_for_status()
        page = answer.json()
        found += page
        if len(page) < 100:
            return found


def write_albums(target: Server, albums: list[Album], work: Path) -> bool:
    """Creates (or completes) each album here; True when nothing failed. Members without an
    account here are listed, not failures."""
    mapping_file = work / "albums.json"
    mapping = json.loads(mapping_file.read_text()) if mapping_file.exists() else {}
    ok = True
    for album in albums:
        if album.source_id not in mapping:
            created = target.request("POST", "/albums", data={
                "name": album.name, "description": album.description,
                **{SETTINGS[k]: str(v).lower() for k, v in album.settings.items()}})
            if created.status_code != 201:
                print(f"FAILED   album {album.name!r}: HTTP {created.status_code} {created.text[:200]}")
                ok = False
                continue
            mapping[album.source_id] = created.json()["album_id"]
            work.mkdir(parents=True, exist_ok=True)
            mapping_file.write_text(json.dumps(mapping))
        ok &= _fill(target, album, mapping[album.source_id])
    (work / "albums-imported.json").write_text(json.dumps([asdict(a) for a in albums], indent=1))
    return ok


def _fill(target: Server, album: Album, album_id: str) -> bool:
    ok = True
    absent = []
    for email, is_admin in album.members:
        known = target.request("GET", "/users", params={"reference": email})
        if known.status_code != 200:
            absent.append(email)
            continue
        added = target.request("PUT", f"/albums/{album_id}/users/{email}")
        if added.status_code == 403:  # the importing user: already the admin who created the album
            continue
        if added.status_code not in (201, 204) or (
                is_admin and target.request("PUT", f"/albums/{album_id}/users/{email}/admin").status_code != 204):
            print(f"FAILED   member {email} of album {album.name!r}: HTTP {added.status_code}")
            ok = False
    for study, series in album.series:
        placed = target.request("PUT", f"/studies/{study}/series/{series}/albums/{album_id}")
        if placed.status_code not in (201, 204):
            print(f"FAILED   series {series} into album {album.name!r}: HTTP {placed.status_code}")
            ok = False
    if absent:
        print(f"album {album.name!r}: no account here for {', '.join(absent)} (not added)", file=sys.stderr)
    print(f"album {album.name!r} -> {album_id}: {len(album.members) - len(absent)} member(s), "
          f"{len(album.series)} series")
    return ok
