"""Runs the app's SQS event functions locally, as Lambda's SQS event sources do in AWS.

Discovers every `@app.on_sqs_message` handler of `app`, long-polls its queue in worker threads,
calls the handler with a Lambda-shaped event of at most `batch_size` records, and deletes the
records only when the handler returned. A handler that raises leaves its records to reappear
after the visibility timeout (and reach the queue's dead-letter queue after maxReceiveCount)."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("devstack.pollers")


@dataclass
class LambdaContext:
    """The little of Lambda's context object handlers may read."""

    function_name: str
    aws_request_id: str
    deadline: float

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def sqs_handlers(app) -> list[tuple[object, object]]:
    """(SQSEventConfig, handler) for every on_sqs_message registration of the app."""
    from chalice.app import SQSEventConfig

    return [(source, app.handler_map[source.name]) for source in app.event_sources
            if isinstance(source, SQSEventConfig)]


def lambda_event(messages: list[dict], queue_arn: str) -> dict:
    return {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": m.get("Attributes", {}), "messageAttributes": m.get("MessageAttributes", {}),
        "md5OfBody": m.get("MD5OfBody", ""), "eventSource": "aws:sqs", "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3] if queue_arn.count(":") >= 5 else "",
    } for m in messages]}


class QueuePoller(threading.Thread):
    """One worker: receive, run the handler, delete on success."""

    def __init__(self, source, handler, stop: threading.Event, *, wait_seconds: int, visibility: int | None,
                 timeout: float):
        super().__init__(name=f"poller-{source.name}", daemon=True)
        self.source, self.handler, self.stop = source, handler, stop
        self.wait_seconds, self.visibility, self.timeout = wait_seconds, visibility, timeout

    def run(self) -> None:
        from chalicelib.store.aws import client

        sqs = client("sqs")
        url = sqs.get_queue_url(QueueName=self.source.queue)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        log.info("polling %s for %s", self.source.queue, self.source.name)
        while not self.stop.is_set():
            try:
                self._poll_once(sqs, url, arn)
            except Exception:  # noqa: BLE001 - a poller survives emulator hiccups
                if not self.stop.is_set():
                    log.exception("polling %s failed", self.source.queue)
                self.stop.wait(1.0)

    def _poll_once(self, sqs, url: str, arn: str) -> None:
        receive = {"QueueUrl": url, "MaxNumberOfMessages": max(1, min(self.source.batch_size, 10)),
                   "WaitTimeSeconds": self.wait_seconds, "AttributeNames": ["All"]}
        if self.visibility is not None:
            receive["VisibilityTimeout"] = self.visibility
        messages = sqs.receive_message(**receive).get("Messages", [])
        if not messages:
            return
        context = LambdaContext(self.source.name, str(uuid.uuid4()), time.monotonic() + self.timeout)
        try:
            self.handler(lambda_event(messages, arn), context)
        except Exception:  # noqa: BLE001 - as Lambda: the batch stays in the queue for redelivery
            log.exception("%s failed; its messages will be redelivered", self.source.name)
            return
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stage", default="local")
    parser.add_argument("--workers", type=int, default=2, help="threads per queue")
    parser.add_argument("--wait-seconds", type=int, default=5, help="long-poll wait")
    parser.add_argument("--visibility-timeout", type=int, default=None,
                        help="per-receive visibility timeout; default: the queue's own")
    parser.add_argument("--timeout", type=float, default=30.0, help="the Lambda timeout handlers see")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("botocore", "boto3", "urllib3", "pynamodb"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from devstack.api_server import stage_environment

    for key, value in stage_environment(args.stage).items():
        os.environ.setdefault(key, value)  # values the launcher passes explicitly win
    sys.path.insert(0, str(ROOT))
    from app import app

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    workers = [QueuePoller(source, handler, stop, wait_seconds=args.wait_seconds,
                           visibility=args.visibility_timeout, timeout=args.timeout)
               for source, handler in sqs_handlers(app) for _ in range(max(1, args.workers))]
    for worker in workers:
        worker.start()
    print(f"pollers running: {', '.join(sorted({w.source.name for w in workers}))}", flush=True)
    while not stop.wait(0.5):
        pass
    for worker in workers:
        worker.join(timeout=args.wait_seconds + 2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
