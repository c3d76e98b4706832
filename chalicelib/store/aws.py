"""boto3 clients, created once per process (again after `config.reset()`). The endpoint comes from
AWS_ENDPOINT_URL alone, the region from `settings().region`."""
from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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


# Independent reads of one request sent at once (`together`): a request's latency is then its
# longest chain of reads, not their sum (docs/benchmarks.md, "critical path").
READERS = 16


@cache
def _readers() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(READERS, thread_name_prefix="reader")


def together(*reads: Callable[[], object]) -> list:
    """The results of independent reads, in order, sent at once: the first in the caller's thread,
    the others on the shared readers, each in a copy of the caller's context (a read given here
    must not itself wait on `together`'s readers from a reader thread, or a full pool would wait
    on itself)."""
    if len(reads) <= 1:
        return [read() for read in reads]
    others = [_readers().submit(contextvars.copy_context().run, read) for read in reads[1:]]
    return [reads[0](), *(future.result() for future in others)]
