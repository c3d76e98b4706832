"""Where the API function's CPU goes, by cause: yappi profiles on the CPU clock, every thread, of
requests run through Chalice's own Lambda handler path (`LocalGateway`: the event a Lambda gets,
no HTTP server) in this process, against a running local stack. `make bench` profiles the
operations where Obelisk trails Orthanc; `python -m bench.profile [N]` does it on a stack of its own."""
from __future__ import annotations

import base64
import io
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pydicom
import requests
import yappi

from bench.client import FRAME_ACCEPT, OHIF_STUDY_LIST
from bench.measure import JSON
from devstack.demo import multipart_body
from devstack.in_process import service_layer

# The cause of a function's own CPU time, by the path of its file; the first match wins.
CAUSES = {
    "AWS calls (botocore, boto3, urllib3, http, ssl: signing, sending, parsing)":
        ("/botocore/", "/boto3/", "/s3transfer/", "/urllib3/", "/http/client.py", "/ssl.py", "/socket.py",
         "/email/", "/selectors.py"),
    "PynamoDB (items to models and back)": ("/pynamodb/",),
    "pydicom (parsing, DICOM JSON)": ("/pydicom/",),
    "pixel data (numpy, PIL, highdicom)": ("/numpy/", "/PIL/", "/highdicom/"),
    "token verification (PyJWT, cryptography)": ("/jwt/", "/cryptography/"),
    "Chalice (event, routing, response)": ("/chalice/",),
    "json (stdlib)": ("/json/",),
    "Obelisk's own code (chalicelib, app.py)": ("/chalicelib/", "/app.py"),
    "threads and queues (stdlib)": ("/threading.py", "/concurrent/", "/queue.py"),
}
OTHER = "everything else"


@dataclass
class Request:
    method: str
    path: str
    headers: dict = field(default_factory=dict)
    body: bytes | None = None


def cause(path: str) -> str:
    return next((name for name, marks in CAUSES.items() if any(m in path for m in marks)), OTHER)


def profile(send: Callable[[Request], dict], label: str, request: Callable[[int], Request], n: int) -> dict:
    """After one warm-up (`request(-1)`): the CPU per request of n requests unprofiled
    (`request(0..n-1)`; the process's CPU clock, every thread), then the share of each cause and
    of the busiest functions in n more, profiled (`request(n..2n-1)`). The profiler slows
    call-heavy code more than the rest, so shares are indicative; the CPU figure is not profiled."""
    answer = send(request(-1))
    if answer["statusCode"] >= 400:
        raise RuntimeError(f"{label}: {answer['statusCode']} {str(answer.get('body'))[:300]}")
    start = time.process_time()
    for i in range(n):
        send(request(i))
    cpu_ms = (time.process_time() - start) / n * 1e3
    yappi.clear_stats()
    yappi.set_clock_type("cpu")
    yappi.start(builtins=False, profile_threads=True)
    try:
        for i in range(n, 2 * n):
            send(request(i))
    finally:
        yappi.stop()
    stats = list(yappi.get_func_stats())
    yappi.clear_stats()
    total = sum(stat.tsub for stat in stats) or 1.0
    by_cause: dict[str, float] = {}
    for stat in stats:
        by_cause[cause(stat.module)] = by_cause.get(cause(stat.module), 0.0) + stat.tsub / total
    top = sorted(((f"{Path(stat.module).name}:{stat.lineno} {stat.name}", stat.tsub / total) for stat in stats),
                 key=lambda f: -f[1])[:8]
    return {"op": label, "n": n, "cpu_ms": cpu_ms, "causes": dict(sorted(by_cause.items(), key=lambda kv: -kv[1])),
            "top": top}


def gateway() -> Callable[[Request], dict]:
    """A function sending a Request to the app as API Gateway's Lambda event (call it inside
    `service_layer(stack)`)."""
    from chalice.config import Config
    from chalice.local import LocalGateway

    from app import app

    local = LocalGateway(app, Config.create(chalice_stage="local", app_name="obelisk", lambda_timeout=30))

    def send(request: Request) -> dict:
        answer = local.handle_request(request.method, request.path, request.headers, request.body)
        if answer.get("isBase64Encoded") and isinstance(answer.get("body"), str):
            answer["body"] = base64.b64decode(answer["body"])
        return answer

    return send


@dataclass
class Subject:
    """What the profiled requests read: one study of the caller's, a series of it and one of its
    instances; `stow_files` are 2n + 1 Part-10 files not yet stored (one per STOW request)."""
    token: str
    study: str
    series: str
    sop: str
    stow_files: list[bytes]


def operations(subject: Subject) -> dict[str, Callable[[int], Request]]:
    auth = {"Authorization": f"Bearer {subject.token}"}
    series_path = f"/studies/{subject.study}/series/{subject.series}"

    def stow(i: int) -> Request:
        body, content_type = multipart_body([subject.stow_files[i + 1]])
        return Request("POST", "/studies", {**auth, **JSON, "Content-Type": content_type}, body)

    return {
        "STOW 1 instance (512x512 CT)": stow,
        "QIDO studies (OHIF list)": lambda i: Request("GET", f"/studies?{urlencode(OHIF_STUDY_LIST)}",
                                                      {**auth, **JSON}),
        "QIDO series of a study": lambda i: Request("GET", f"/studies/{subject.study}/series", {**auth, **JSON}),
        "series metadata": lambda i: Request("GET", f"{series_path}/metadata", {**auth, **JSON}),
        "frame (function answer)": lambda i: Request("GET", f"{series_path}/instances/{subject.sop}/frames/1",
                                                     {**auth, "Accept": FRAME_ACCEPT}),
    }


def run(stack, subject: Subject, n: int) -> list[dict]:
    """Every operation of `operations`, n times each, profiled in this process against `stack`."""
    with service_layer(stack):
        send = gateway()
        return [profile(send, label, request, n) for label, request in operations(subject).items()]


def text(profiles: list[dict]) -> str:
    lines = []
    for p in profiles:
        lines.append(f"{p['op']}: {p['cpu_ms']:.1f} ms CPU per request (mean of {p['n']}, not profiled)")
        lines += [f"  {name:78s} {share:6.1%}" for name, share in p["causes"].items() if share >= 0.005]
        lines += [f"    {name:76s} {share:6.1%}" for name, share in p["top"]]
    return "\n".join(lines)


def main(n: int = 12) -> int:
    """A fresh stack: one CT series stored, then every operation profiled."""
    from bench.data import ct_study
    from devstack.stack import LocalStack

    stack = LocalStack(Path(tempfile.mkdtemp()), emulator_port=0, api_port=0, persist=False).start()
    try:
        stack.kill_pollers()
        token = stack.token("alice")
        study = ct_study([2 * n + 2], seed=1)
        files = study.instances()
        body, content_type = multipart_body(files[:1])
        requests.post(f"{stack.api_url}/studies", data=body, timeout=60, headers={
            "Authorization": f"Bearer {token}", "Content-Type": content_type}).raise_for_status()
        first = pydicom.dcmread(io.BytesIO(files[0]), stop_before_pixels=True)
        subject = Subject(token, first.StudyInstanceUID, first.SeriesInstanceUID, first.SOPInstanceUID, files[1:])
        print(text(run(stack, subject, n)))
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 12))
