"""`obelisk upload`: sends DICOM instances to a STOW-RS server. Instances already stored are skipped
(resume), small ones travel in multipart/related batches under the API's request limit with several
requests in flight, each instance above the limit goes through Obelisk's large-upload path (an S3
multipart upload, parts in parallel), and every request is retried with backoff. Ctrl-C (SIGINT) stops
new requests and parts from starting; those in flight finish, and the summary counts them."""
from __future__ import annotations

import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from tqdm import tqdm

from obelisk_cli.files import Instance
from obelisk_cli.http import Server
from obelisk_cli.stored import stored_instances

# API Gateway takes 10 MB and Lambda 6 MB of payload, which API Gateway base64-encodes: about
# 4.5 MB of DICOM per synchronous request.
DEFAULT_BATCH_BYTES = 4_500_000
# API Gateway gives a request 29 s: the function parses each instance and writes its renditions, so a
# batch of many small instances is cut by count too.
DEFAULT_BATCH_INSTANCES = 20
PART_OVERHEAD = 200  # boundary and part headers of one multipart/related part
REFERENCED_SOP_SEQUENCE, FAILED_SOP_SEQUENCE = "00081199", "00081198"
REFERENCED_SOP_INSTANCE_UID, FAILURE_REASON, ERROR_COMMENT = "00081155", "00081197", "00000902"
SIGNAL_CHECK = 0.2  # seconds
NOTHING_DONE: tuple[int, list, int] = (0, [], 0)


class Refused(Exception):
    """The server refused the token or the album on the first request: nothing else would succeed."""


@dataclass
class Failure:
    name: str
    sop_uid: str
    reason: str


@dataclass
class Report:
    """What an upload did, for the summary and the exit code."""

    found: int = 0
    already_stored: int = 0
    stored: int = 0
    bytes_sent: int = 0
    seconds: float = 0.0
    batches: int = 0
    large: int = 0
    interrupted: bool = False
    failures: list[Failure] = field(default_factory=list)


@dataclass
class Options:
    album: str | None = None
    batch_bytes: int = DEFAULT_BATCH_BYTES
    batch_instances: int = DEFAULT_BATCH_INSTANCES
    jobs: int = 4
    progress: bool = True
    poll_seconds: float = 900.0
    stop: threading.Event = field(default_factory=threading.Event)  # set by Ctrl-C: start nothing new


def check_access(server: Server, album: str | None) -> None:
    """One QIDO request before anything else: a bad token (401) or an unknown album (404) stops here."""
    params = {"limit": 1, **({"album": album} if album else {})}
    answer = server.request("GET", "/studies", params=params, headers={"Accept": "application/dicom+json"})
    if answer.status_code == 401:
        raise Refused(f"the server refused the token (HTTP 401: {_message(_json(answer))}): check --bearer-token")
    if answer.status_code == 404 and album:
        raise Refused(f"album {album} not found, or not readable with this token (HTTP 404: {_message(_json(answer))})")


def upload(server: Server, instances: list[Instance], options: Options) -> Report:
    check_access(server, options.album)
    report = Report(found=len(instances))
    pending = _not_yet_stored(server, instances, options.album)
    report.already_stored = len(instances) - len(pending)
    small = [i for i in pending if i.size + PART_OVERHEAD <= options.batch_bytes]
    large = [i for i in pending if i.size + PART_OVERHEAD > options.batch_bytes]
    bar = tqdm(total=sum(i.size for i in pending), unit="B", unit_scale=True, unit_divisor=1024,
               disable=not options.progress, file=sys.stderr, desc="upload", mininterval=0.5)
    started = time.monotonic()
    restore = _stop_on_sigint(options.stop)
    try:
        with ThreadPoolExecutor(max_workers=options.jobs) as pool:
            jobs = [pool.submit(_send_batch, server, group, options, bar.update)
                    for group in batches(small, options.batch_bytes, options.batch_instances)]
            report.batches, report.large = len(jobs), len(large)
            jobs += [pool.submit(_send_large, server, item, options, bar.update) for item in large]
            for job in _as_completed(jobs):  # every job: those not started return at once after Ctrl-C
                stored, failures, sent = job.result()
                report.stored += stored
                report.failures += failures
                report.bytes_sent += sent
    finally:
        restore()
        bar.close()
    report.interrupted = options.stop.is_set()
    report.seconds = time.monotonic() - started
    return report


def _as_completed(jobs: list[Future]) -> Iterator[Future]:
    """Like `as_completed`, waking up every SIGNAL_CHECK seconds: Ctrl-C may reach a worker thread,
    and Python runs its handler only when the main thread wakes."""
    remaining = set(jobs)
    while remaining:
        done, remaining = wait(remaining, timeout=SIGNAL_CHECK, return_when=FIRST_COMPLETED)
        yield from done


def _stop_on_sigint(stop: threading.Event) -> Callable[[], None]:
    """Ctrl-C sets `stop` (a second one interrupts at once); returns what puts the old handler back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum, frame) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, handler)
    return lambda: signal.signal(signal.SIGINT, previous)


def _not_yet_stored(server: Server, instances: list[Instance], album: str | None) -> list[Instance]:
    """Drops instances the server already holds (and duplicates of one SOP Instance UID)."""
    studies = sorted({i.study_uid for i in instances})
    with ThreadPoolExecutor(max_workers=4) as pool:
        stored = dict(zip(studies, pool.map(lambda st: stored_instances(server, st, album), studies), strict=True))
    seen: set[str] = set()
    pending = []
    for item in instances:
        if item.sop_uid in stored[item.study_uid] or item.sop_uid in seen:
            continue
        seen.add(item.sop_uid)
        pending.append(item)
    return pending


def batches(instances: Iterable[Instance], limit: int, count: int = DEFAULT_BATCH_INSTANCES) -> list[list[Instance]]:
    """Consecutive groups of at most `count` instances whose multipart body stays within `limit` bytes."""
    groups: list[list[Instance]] = []
    current: list[Instance] = []
    size = 0
    for item in instances:
        if current and (size + item.size + PART_OVERHEAD > limit or len(current) >= count):
            groups.append(current)
            current, size = [], 0
        current.append(item)
        size += item.size + PART_OVERHEAD
    if current:
        groups.append(current)
    return groups


def multipart_body(parts: list[bytes]) -> tuple[bytes, str]:
    boundary = f"obelisk-{uuid.uuid4().hex}"
    pieces = []
    for data in parts:
        pieces += [f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode(), data, b"\r\n"]
    pieces.append(f"--{boundary}--\r\n".encode())
    return b"".join(pieces), f'multipart/related; type="application/dicom"; boundary={boundary}'


def _album_params(options: Options) -> dict:
    return {"album": options.album} if options.album else {}


def _send_batch(server: Server, group: list[Instance], options: Options,
                advance: Callable[[int], object] = lambda n: None) -> tuple[int, list[Failure], int]:
    if options.stop.is_set():
        return NOTHING_DONE
    sent = sum(i.size for i in group)
    try:
        body, content_type = multipart_body([i.read() for i in group])
        answer = server.request("POST", "/studies", params=_album_params(options), data=body,
                                headers={"Content-Type": content_type, "Accept": "application/dicom+json"})
    except Exception as error:  # noqa: BLE001 - reported per instance, the upload goes on
        return 0, [Failure(i.name, i.sop_uid, _describe(error)) for i in group], sent
    finally:
        advance(sent)
    return (*stow_outcome(group, answer.status_code, _json(answer)), sent)


def stow_outcome(group: list[Instance], status: int, document) -> tuple[int, list[Failure]]:
    """(instances stored, failures) of a STOW answer for the instances sent."""
    if not isinstance(document, dict) or status not in (200, 202, 409):
        reason = f"HTTP {status}: {_message(document)}"
        return 0, [Failure(i.name, i.sop_uid, reason) for i in group]
    stored = {str(item.get(REFERENCED_SOP_INSTANCE_UID, {}).get("Value", [""])[0])
              for item in document.get(REFERENCED_SOP_SEQUENCE, {}).get("Value", [])}
    refused = {str(item.get(REFERENCED_SOP_INSTANCE_UID, {}).get("Value", [""])[0]): item
               for item in document.get(FAILED_SOP_SEQUENCE, {}).get("Value", [])}
    failures = []
    for item in group:
        if item.sop_uid in stored:
            continue
        failures.append(Failure(item.name, item.sop_uid, _refusal(refused.get(item.sop_uid, refused.get("")))))
    return len(group) - len(failures), failures


def _refusal(failed: dict | None) -> str:
    """A FailedSOPSequence item as a reason: the failure reason code and the ErrorComment (0000,0902)."""
    code = (failed or {}).get(FAILURE_REASON, {}).get("Value", [None])[0]
    if not isinstance(code, int):
        return "not in the STOW answer"
    comment = (failed or {}).get(ERROR_COMMENT, {}).get("Value", [""])[0]
    return f"refused (failure reason 0x{code:04X}: {comment})" if comment else f"refused (failure reason 0x{code:04X})"


def _send_large(server: Server, item: Instance, options: Options,
                advance: Callable[[int], object] = lambda n: None) -> tuple[int, list[Failure], int]:
    """One instance through `POST /uploads` (S3 multipart upload, parts in parallel), then its STOW answer.
    After Ctrl-C no part starts and the upload is not completed (S3 aborts it after a day)."""
    if options.stop.is_set():
        return NOTHING_DONE
    try:
        data = item.read()
        started = server.request("POST", "/uploads", params=_album_params(options),
                                 json={"content_type": "application/dicom", "size": len(data)})
        if started.status_code != 201:
            return 0, [Failure(item.name, item.sop_uid, f"HTTP {started.status_code}: {_message(_json(started))}")], item.size
        ticket = started.json()
        sent = _put_parts(server, data, ticket, options.jobs, options.stop, advance)
        if options.stop.is_set():
            return 0, [], sent
        done = server.request("POST", ticket["complete_url"], json={})
        if done.status_code not in (200, 202):
            return 0, [Failure(item.name, item.sop_uid, f"HTTP {done.status_code}: {_message(_json(done))}")], item.size
        status, document = wait_for_ingest(server, ticket["status_url"], options.poll_seconds)
    except Exception as error:  # noqa: BLE001 - reported per instance, the upload goes on
        return 0, [Failure(item.name, item.sop_uid, _describe(error))], item.size
    return (*stow_outcome([item], status, document), item.size)


def _put_parts(server: Server, data: bytes, ticket: dict, jobs: int, stop: threading.Event,
               advance: Callable[[int], object]) -> int:
    """PUTs the parts (none starts once `stop` is set); the bytes sent. The bar advances per part."""
    size = ticket["part_size"]

    def put(part: dict) -> int:
        if stop.is_set():
            return 0
        start = (part["part_number"] - 1) * size
        chunk = data[start:start + size]
        answer = server.request("PUT", part["url"], presigned=True, data=chunk)
        answer.raise_for_status()
        advance(len(chunk))
        return len(chunk)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return sum(pool.map(put, ticket["parts"]))


def wait_for_ingest(server: Server, status_url: str, timeout: float,
                    sleep: Callable[[float], None] = time.sleep) -> tuple[int, dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = server.request("GET", status_url)
        document = _json(answer)
        if answer.status_code != 202 or (document or {}).get("status") != "pending":
            return answer.status_code, document
        sleep(float(answer.headers.get("Retry-After", "1")))
    raise TimeoutError(f"not ingested within {timeout:.0f} s")


def _json(answer):
    try:
        return answer.json() if answer.content else None
    except ValueError:
        return None


def _message(document) -> str:
    if isinstance(document, dict):
        return str(document.get("detail") or document.get("message") or document)
    return "no explanation"


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"
