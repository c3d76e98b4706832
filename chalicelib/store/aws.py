"""boto3 clients, created once per process (again after `config.reset()`). The endpoint comes from
AWS_ENDPOINT_URL alone, the region from `settings().region`."""
from __future__ import annotations

from functools import cache

import boto3
from botocore.config import Config

from chalicelib import config

_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=30,
    s3={"addressing_style": "path"},
    signature_version="s3v4",
)


@cache
def client(service: str):
    """A shared boto3 client. Thread-safe for calls; created lazily to keep cold starts short."""
    return boto3.session.Session().client(service, region_name=config.settings().region, config=_CONFIG)


@cache
def queue_url(name: str) -> str:
    return client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


config.on_reset(client.cache_clear)
config.on_reset(queue_url.cache_clear)
