"""Obelisk as a LocalStack (emulator + `chalice local`) on free ports in a scratch folder, and the
emulator's AWS-call counters."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import requests

from devstack.bootstrap import aws_client
from devstack.stack import LocalStack


class Obelisk:
    def __init__(self, scratch: Path):
        shutil.rmtree(scratch, ignore_errors=True)
        self.stack = LocalStack(scratch, emulator_port=0, api_port=0, persist=False)
        self.token = ""

    def start(self) -> Obelisk:
        self.stack.start()
        # The SQS event functions are separate Lambdas in AWS and off every request path; their
        # long polls would pollute the call counters and take CPU from a 2-core machine.
        self.stack.kill_pollers()
        self.token = self.stack.token("alice")
        return self

    @property
    def dicomweb(self) -> str:
        return self.stack.api_url

    @property
    def api_pid(self) -> int:
        (api,) = [p for p in self.stack.processes if "devstack.api_server" in p.args]
        return api.pid

    @property
    def emulator_pids(self) -> tuple[int, ...]:
        """The emulator's processes: S3's and the other services' (devstack/s3_sibling.py)."""
        return tuple(p.pid for p in self.stack.processes if "devstack.emulator" in p.args)

    def run_functions(self, seconds: float, limit: float) -> float:
        """Lets the SQS event functions (the renditions function among them) work for `seconds`,
        and on until the renditions queue is empty (nothing waiting, delayed or in flight), at
        most `limit` seconds in all. Returns when the queue was first seen empty after `seconds`."""
        sqs = aws_client("sqs", self.stack.emulator_url)
        queue = sqs.get_queue_url(QueueName=f"obelisk-{self.stack.stage}-renditions")["QueueUrl"]
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                 "ApproximateNumberOfMessagesDelayed"]
        start = time.monotonic()
        self.stack.start_pollers()
        try:
            time.sleep(seconds)
            while time.monotonic() - start < limit:
                counts = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=names)["Attributes"]
                if not any(int(counts[n]) for n in names):
                    break
                time.sleep(0.5)
            return time.monotonic() - start
        finally:
            self.stack.kill_pollers()

    def reset_calls(self) -> None:
        requests.delete(self.stack.emulator_url + "/_emulator/calls", timeout=10).raise_for_status()

    def calls(self) -> dict[str, int]:
        return requests.get(self.stack.emulator_url + "/_emulator/calls", timeout=10).json()

    def timeline(self) -> list[list]:
        """The emulator's requests since the counters' reset: [operation, arrived, answered]."""
        return requests.get(self.stack.emulator_url + "/_emulator/timeline", timeout=30).json()

    def stop(self) -> None:
        self.stack.stop()
