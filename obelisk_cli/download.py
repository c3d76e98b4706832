"""`obelisk download`: retrieves studies chosen by QIDO-RS filters from a DICOMweb server, one
instance per WADO-RS request in the stored transfer syntax (`transfer-syntax=*`, no transcoding),
into `OUT/{study}/{series}/{sop}.dcm`. Files already there are not fetched again (resume)."""
from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from obelisk_cli.http import Server

ACCEPT_PART10 = 'multipart/related; type="application/dicom"; transfer-syntax=*'
STUDY_UID, SERIES_UID, SOP_UID = "0020000D", "0020000E", "00080018"
PAGE = 1000


@dataclass
class Retrieved:
    instances: int = 0
    already_there: int = 0
    bytes: int = 0
    seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (what, why)


def add_parser(commands, server_options) -> None:
    parser = commands.add_parser("download", help="retrieve studies (QIDO filters) into a folder",
                                 description=__doc__)
    server_options(parser)
    add_selection_options(parser)
    parser.add_argument("--out", "-o", required=True, help="folder receiving {study}/{series}/{sop}.dcm")
    parser.set_defaults(run=run_download)


def add_selection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--study", action="append", default=[], metavar="UID", help="a Study Instance UID (repeatable)")
    parser.add_argument("--filter", "-f", action="append", default=[], metavar="KEY=VALUE",
                        help="a QIDO-RS study search parameter, e.g. PatientID=123 or StudyDate=20240101-20241231")


def query_of(filters: list[str]) -> dict[str, str]:
    query = {}
    for item in filters:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"obelisk: --filter wants KEY=VALUE, not {item!r}")
        query[key] = value
    return query


def run_download(args) -> int:
    from obelisk_cli.main import server_of

    server = server_of(args)
    studies = select_studies(server, args.study, query_of(args.filter), args.album)
    result = download(server, studies, Path(args.out), args.album, args.jobs, not args.quiet)
    print_retrieved(result, len(studies))
    return 1 if result.failures else 0


def print_retrieved(result: Retrieved, studies: int) -> None:
    for what, why in result.failures:
        print(f"FAILED   {what}: {why}")
    rate = result.bytes / result.seconds / 1024 ** 2 if result.seconds else 0.0
    print(f"{studies} study(ies): {result.instances} instance(s) retrieved, {result.already_there} already there, "
          f"{len(result.failures)} failed; {result.bytes / 1024 ** 2:.1f} MiB in {result.seconds:.1f} s ({rate:.1f} MiB/s)")


def qido(server: Server, path: str, query: dict) -> list[dict]:
    """Every result of a QIDO-RS search, page by page."""
    found: list[dict] = []
    while True:
        answer = server.request("GET", path, params={**query, "limit": PAGE, "offset": len(found)},
                                headers={"Accept": "application/dicom+json"})
        if answer.status_code == 204 or not answer.content:
            return found
        answer.raise_for_status()
        page = answer.json()
        found += page
        if len(page) < PAGE:  # servers that ignore limit answer everything at once
            return found


def uid(item: dict, tag: str) -> str:
    return str(item.get(tag, {}).get("Value", [""])[0])


def select_studies(server: Server, uids: list[str], query: dict, album: str | None) -> list[str]:
    if album:
        query = {**query, "album": album}
    if uids and not query:
        return list(uids)
    found = [uid(item, STUDY_UID) for item in qido(server, "/studies", query)]
    return [st for st in found if st and (not uids or st in uids)]


def instances_of(server: Server, study: str, album: str | None) -> list[tuple[str, str, str]]:
    """(study, series, sop) of every instance of a study."""
    query = {"includefield": f"{SERIES_UID},{SOP_UID}"}
    if album:
        query["album"] = album
    items = qido(server, f"/studies/{study}/instances", query)
    return [(study, uid(i, SERIES_UID), uid(i, SOP_UID)) for i in items if uid(i, SOP_UID)]


def download(server: Server, studies: list[str], out: Path, album: str | None = None, jobs: int = 4,
             progress: bool = True) -> Retrieved:
    result = Retrieved()
    started = time.monotonic()
    todo = []
    for study in studies:
        try:
            todo += instances_of(server, study, album)
        except Exception as error:  # noqa: BLE001 - reported, the other studies go on
            result.failures.append((f"study {study}", str(error)))
    bar = tqdm(total=len(todo), unit="instance", disable=not progress, file=sys.stderr, desc="download",
               mininterval=0.5)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        jobs_ = {pool.submit(_fetch, server, item, out, album): item for item in todo}
        for job in as_completed(jobs_):
            study, series, sop = jobs_[job]
            try:
                size = job.result()
            except Exception as error:  # noqa: BLE001
                result.failures.append((f"instance {sop}", str(error)))
            else:
                if size is None:
                    result.already_there += 1
                else:
                    result.instances += 1
                    result.bytes += size
            bar.update(1)
    bar.close()
    result.seconds = time.monotonic() - started
    return result


def _fetch(server: Server, item: tuple[str, str, str], out: Path, album: str | None) -> int | None:
    study, series, sop = item
    target = out / study / series / f"{sop}.dcm"
    if target.exists():
        return None
    params = {"album": album} if album else {}
    answer = server.request("GET", f"/studies/{study}/series/{series}/instances/{sop}", params=params,
                            headers={"Accept": ACCEPT_PART10})
    answer.raise_for_status()
    parts = multipart_parts(answer.content, answer.headers.get("Content-Type", ""))
    if len(parts) != 1:
        raise ValueError(f"expected one part, got {len(parts)}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    partial.write_bytes(parts[0])
    partial.replace(target)  # a file under its final name is always whole
    return len(parts[0])


def multipart_parts(body: bytes, content_type: str) -> list[bytes]:
    """The payloads of a multipart/related body (RFC 2046), headers dropped."""
    boundary = _boundary(content_type)
    if boundary is None:
        return [body]
    delimiter = b"--" + boundary.encode()
    parts = []
    for chunk in body.split(b"\r\n" + delimiter)[:-1] if body.startswith(delimiter) else []:
        chunk = chunk[len(delimiter):] if chunk.startswith(delimiter) else chunk
        head, sep, payload = chunk.partition(b"\r\n\r\n")
        if sep:
            parts.append(payload)
    return parts


def _boundary(content_type: str) -> str | None:
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "boundary":
            return value.strip('"')
    return None
