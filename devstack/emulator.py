"""The local AWS emulator: a moto server on loopback whose state survives restarts.

State is pickled to a file after writes (at most every few seconds) and on shutdown, and loaded
at start, stamped with its format and moto's version (`devstack/moto_patches/state.py`). Every
patch to moto's internals lives in `devstack/moto_patches/`. The server also counts the AWS requests it answers, per service and operation, at
`/_emulator/calls` (tests and benchmarks use it to hold AWS-call budgets), and when each arrived and
was answered at `/_emulator/timeline` (the benchmarks' critical path: which requests a caller
sent at once; `/_emulator/latency` holds each DynamoDB request as a network would, so that
requests sent at once overlap there however fast they are answered).

The local stack runs it twice: S3 in a process of its own (`--s3-only`), everything else in the
main one (`--s3-endpoint`), which forwards the S3 requests it receives and answers `/_emulator/*`
for both (`devstack/s3_sibling.py`)."""
from __future__ import annotations

import argparse
import json
import os
import pickle
import signal
import sys
import threading
import time
from collections import Counter, deque

# State saved before the patches moved to devstack/moto_patches/ names this module's RSA-key loader.
from chalicelib import allocator, collector
from devstack import s3_auth, s3_sibling
from devstack.moto_patches.state import _load_rsa_key  # noqa: F401
from devstack.s3_sibling import S3Sibling

TIMELINE_LENGTH = 100_000  # requests remembered between two resets of the counters


def operation_of(environ: dict) -> tuple[str, str]:
    """(service, operation) of one AWS request, as far as the counters need it."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        prefix, _, op = target.partition(".")
        service = "dynamodb" if prefix.startswith("DynamoDB") else prefix.split("_")[0].lower()
        if "sqs" in prefix.lower():
            service = "sqs"
        return service, op
    auth = environ.get("HTTP_AUTHORIZATION", "")
    query = environ.get("QUERY_STRING", "")
    if "/s3/" in auth or "X-Amz-Credential" in query or "AWSAccessKeyId" in query:
        return "s3", environ.get("REQUEST_METHOD", "")
    if "/sqs/" in auth:
        return "sqs", "query"
    return "other", environ.get("REQUEST_METHOD", "")


class CountingApp:
    """WSGI middleware: counts requests, marks the state dirty on anything but a read, and injects
    faults on request (`POST /_emulator/faults` `{"operation": "dynamodb:Query", "count": 2}` answers
    the next two matching requests with the throttling error AWS sends).

    DynamoDB requests are served one at a time, inside `devstack.moto_patches.ONE_AT_A_TIME`: the
    rule, and why DynamoDB's atomicity and the patches need it, is stated there."""

    def __init__(self, app, sibling: S3Sibling | None = None):
        from devstack.moto_patches import ONE_AT_A_TIME, s3_put

        self.app = app
        self.sibling = sibling  # the S3 emulator, when S3 is served by another process
        self.plain_put = s3_put.answer  # a plain S3 PutObject served without moto's Flask dispatch
        self.calls: Counter = Counter()
        self.faults: Counter = Counter()
        self.lock = threading.Lock()
        self.dynamodb = ONE_AT_A_TIME
        self.dirty = threading.Event()
        self.timeline: deque = deque(maxlen=TIMELINE_LENGTH)  # [operation, arrived, answered] (s)
        self.counting_since = time.monotonic()
        self.latency = 0.0  # seconds each DynamoDB request is held before it is served (`/_emulator/latency`)

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/_emulator/calls":
            return self._calls_endpoint(environ, start_response)
        if path == "/_emulator/faults":
            return self._faults_endpoint(environ, start_response)
        if path == "/_emulator/timeline":
            return self._json(start_response, self._timeline())
        if path == "/_emulator/latency":
            return self._latency_endpoint(environ, start_response)
        if path == "/_emulator/clock":
            if self.sibling:  # the clock S3's checks read is the S3 emulator's
                return self.sibling.forward(environ, start_response)
            return s3_auth.clock_endpoint(environ, start_response)
        if self.sibling and self.sibling.serves(environ, operation_of(environ)[0]):
            return self.sibling.forward(environ, start_response)  # counted there
        arrived = time.monotonic()
        try:
            if self.latency and operation_of(environ)[0] == "dynamodb":
                time.sleep(self.latency)  # the network's share of a round trip, before the one-at-a-time service
            return self._serve(environ, start_response)
        finally:
            if arrived >= self.counting_since:  # not a long poll that was waiting at the reset
                self.timeline.append([":".join(operation_of(environ)), arrived, time.monotonic()])

    def _serve(self, environ, start_response):
        service, op = operation_of(environ)
        with self.lock:
            self.calls[f"{service}:{op}"] += 1
            throttled = self.faults[f"{service}:{op}"] > 0
            if throttled:
                self.faults[f"{service}:{op}"] -= 1
        if throttled:
            return self._throttle(service, start_response)
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or service in ("dynamodb", "sqs"):
            self.dirty.set()
        if service in ("s3", "other") and (refused := s3_auth.refusal(environ, service)):
            return refused.answer(start_response)  # what S3 refuses: devstack/s3_auth.py
        if service == "dynamodb":
            with self.dynamodb:
                return list(self.app(environ, start_response))
        if service == "s3" and (answered := self.plain_put(environ, start_response)) is not None:
            return answered  # a plain PutObject, moto's answer without its Flask dispatch
        return self.app(environ, start_response)

    def _calls_endpoint(self, environ, start_response):
        method = environ.get("REQUEST_METHOD", "GET")
        sibling = self.sibling.send(method, "/_emulator/calls") if self.sibling else {}
        with self.lock:
            counts = s3_sibling.merged_counts(dict(self.calls), sibling)
            if method == "DELETE":
                self.calls.clear()
                self.timeline.clear()
                self.counting_since = time.monotonic()
        return self._json(start_response, counts)

    def _timeline(self) -> list:
        own = list(self.timeline)
        if not self.sibling:
            return own
        return sorted(own + self.sibling.get("/_emulator/timeline"), key=lambda entry: entry[1])


    @staticmethod
    def _json(start_response, value):
        body = json.dumps(value).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def _latency_endpoint(self, environ, start_response):
        """`POST {"seconds": 0.05}`: each DynamoDB request is held that long before it is served, as
        a network would, so requests a caller sends at once overlap in the timeline however fast
        the emulator answers (tests of what is sent at once); 0 turns it off."""
        if environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            self.latency = float(json.loads(environ["wsgi.input"].read(length) or b"{}").get("seconds", 0.0))
        return self._json(start_response, {"seconds": self.latency})

    def _faults_endpoint(self, environ, start_response):
        sibling_faults = {}
        if environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            fault = json.loads(environ["wsgi.input"].read(length) or b"{}")
            if self.sibling and fault["operation"].startswith("s3:"):
                sibling_faults = self.sibling.send("POST", "/_emulator/faults", json.dumps(fault).encode())
            else:
                with self.lock:
                    self.faults[fault["operation"]] += int(fault.get("count", 1))
        elif self.sibling:
            sibling_faults = self.sibling.get("/_emulator/faults")
        with self.lock:
            faults = s3_sibling.merged_counts(dict(self.faults), sibling_faults)
        return self._json(start_response, faults)

    @staticmethod
    def _throttle(service: str, start_response):
        if service == "dynamodb":
            body = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
                               "message": "Rate of requests exceeds the allowed throughput."}).encode()
            content_type = "application/x-amz-json-1.0"
        else:
            body = (b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>")
            content_type = "application/xml"
        start_response("400 Bad Request" if service == "dynamodb" else "503 Slow Down",
                       [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]


def _saver(app: CountingApp, path: str, services: tuple[str, ...], stop: threading.Event) -> None:
    from devstack.moto_patches import state

    while not stop.wait(2.0):
        if app.dirty.is_set():
            app.dirty.clear()
            for _ in range(3):
                try:
                    state.save(path, services)
                    break
                except (RuntimeError, TypeError, pickle.PicklingError):
                    time.sleep(0.2)  # a dict changed size mid-pickle: try again


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--state", default="", help="pickle file for persistence; empty: in memory")
    parser.add_argument("--s3-endpoint", default="",
                        help="the S3 emulator's URL: S3 requests are forwarded there, S3 is not kept here")
    parser.add_argument("--s3-only", action="store_true", help="this process serves S3 (its state: S3's alone)")
    parser.add_argument("--queues-endpoint", default="",
                        help="with --s3-only: the emulator whose SQS receives the buckets' notifications")
    args = parser.parse_args(argv)

    os.environ.setdefault("MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY", "HASH")
    os.environ.setdefault("MOTO_COGNITO_IDP_USER_POOL_CLIENT_ID_STRATEGY", "HASH")
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    try:
        from devstack import moto_patches
        from devstack.moto_patches import notifications, state
        from devstack.moto_patches import server as moto_server

        moto_patches.install()
        services = (state.S3_SERVICES if args.s3_only
                    else state.NOT_S3_SERVICES if args.s3_endpoint else state.PERSISTED_SERVICES)
        if args.s3_only and args.state and not os.path.exists(args.state) and os.path.exists(legacy_state(args.state)):
            state.load(legacy_state(args.state), services)
            state.save(args.state, services)  # at once: the main emulator's next save drops S3 from its file
        else:
            state.load(args.state, services)
    except RuntimeError as error:  # another moto release, or state it cannot read: say what to do
        if type(error).__name__ not in ("MotoVersionError", "SavedStateError"):
            raise
        print(f"emulator refused to start: {error}", file=sys.stderr, flush=True)
        return 2
    class QuietRequestHandler(MotoRequestHandler):
        """No line per request answered (formatting and writing it to the log cost the emulator's
        CPU on every request; `/_emulator/calls` and `/_emulator/timeline` count them); errors are
        still logged."""

        def log_request(self, *_args, **_kwargs) -> None:
            pass

    if args.queues_endpoint:
        notifications.send_to(args.queues_endpoint)
    dispatcher = DomainDispatcherApplication(create_backend_app)
    app = CountingApp(dispatcher, s3_sibling.S3Sibling(args.s3_endpoint, dispatcher) if args.s3_endpoint else None)
    server = make_server(args.host, args.port, app, threaded=True,
                         request_handler=moto_server.kept_alive(QuietRequestHandler))
    stop = threading.Event()
    if args.state:
        threading.Thread(target=_saver, args=(app, args.state, services, stop), daemon=True).start()

    def shutdown(*_):
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    collector.collect_less()  # chalicelib/collector.py: ~3 ms of CPU less per stored instance
    allocator.keep_freed_memory()  # chalicelib/allocator.py: stored bodies' buffers reused, not faulted in again
    print(f"emulator listening on http://{args.host}:{server.server_port}", flush=True)
    server.serve_forever()
    if args.state:
        state.save(args.state, services)
    return 0


def legacy_state(path: str) -> str:
    """Where S3's state was kept before S3 had its own emulator process: the main emulator's file
    (`emulator-s3.pickle` -> `emulator.pickle`), read until the S3 emulator first saves its own."""
    return path.replace("-s3.pickle", ".pickle") if path.endswith("-s3.pickle") else ""


if __name__ == "__main__":
    sys.exit(main())
