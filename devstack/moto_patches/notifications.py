"""A bucket's notifications to SQS sent to the SQS of another emulator process.

S3 has an emulator process of its own (`devstack/s3_sibling.py`); its moto sends a bucket's
notifications to the queues of its own process (`moto.s3.notifications._send_sqs_message`, an
in-memory SQS backend), where nothing reads them. `send_to(url)` sends them instead as AWS does,
through the SQS API of the emulator at `url`, the one the pollers read; like moto's, a send that
fails is dropped (on AWS the notification is asynchronous and a failure never reaches the writer)."""
from __future__ import annotations

import json
import threading
from typing import Any

_clients: dict[str, Any] = {}
_lock = threading.Lock()


def send_to(url: str) -> None:
    from moto.s3 import notifications

    def send_sqs_message(account_id: str, event_body: Any, queue_name: str, region_name: str) -> None:
        try:
            sqs = _client(url, region_name)
            queue = sqs.get_queue_url(QueueName=queue_name, QueueOwnerAWSAccountId=account_id)["QueueUrl"]
            sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(event_body))
        except Exception:  # noqa: BLE001 - as moto's: a failed notification never fails the write
            pass

    notifications._send_sqs_message = send_sqs_message


def _client(url: str, region: str):
    with _lock:
        if region not in _clients:
            import boto3

            _clients[region] = boto3.session.Session().client(
                "sqs", endpoint_url=url, region_name=region, aws_access_key_id="local",
                aws_secret_access_key="local")
        return _clients[region]
