"""boto3 clients, created once per process (again after `config.reset()`). The endpoint comes from
AWS_ENDPOINT_URL alone, the region from `settings().region`.

One pool policy for the AWS calls a process sends at once (docs/storage.md, "Concurrency"): one
shared pool of `WORKERS` threads (`together` for reads, `each` for independent writes and ranged
reads), and each client's connection pool holds `CONNECTIONS`: the workers plus the caller's own
thread, so no call waits for, or opens and throws away, a connection (botocore's default of 10
was below the 16 readers)."""
from __future__ import annotations

import contextvars
import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import boto3
import botocore.session
from botocore.config import Config

from chalicelib import config

# The pool policy: at most WORKERS calls of one request on the shared pool, plus the request's
# own thread; every client keeps that many connections.
WORKERS = 16
CONNECTIONS = WORKERS + 1

CLIENT_CONFIG = Config(  # every client's settings (store/rows.py adds to them; infra/deploy.py signs alike)
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=30,
    s3={"addressing_style": "path"},
    signature_version="s3v4",
    max_pool_connections=CONNECTIONS,
)


@cache
def botocore_session() -> botocore.session.Session:
    """The process's one botocore session, boto3's and PynamoDB's (`dynamodb_connection.LeanConnection`):
    its loader reads a service's model (~85 ms of JSON for DynamoDB or SQS) once per process. PynamoDB
    keeps a session per thread, so each model's client made on another thread read it again (each
    request of the local API runs on a thread of its own). A session is not safe for making
    clients from two threads at once: whoever makes one holds `CLIENT_CREATION`."""
    return botocore.session.get_session()


CLIENT_CREATION = threading.RLock()


@cache
def _session() -> boto3.session.Session:
    return boto3.session.Session(botocore_session=botocore_session())


@cache
def client(service: str):
    """A shared boto3 client. Thread-safe for calls; created lazily to keep cold starts short."""
    with CLIENT_CREATION:
        return _session().client(service, region_name=config.settings().region, config=CLIENT_CONFIG)


def virtual_hosted_s3(endpoint_url: str):
    """An S3 client that names buckets in the host (`{bucket}.{endpoint's host}`), signing as
    `client` does; not shared (its caller keeps it)."""
    return _session().client("s3", region_name=config.settings().region, endpoint_url=endpoint_url,
                             config=CLIENT_CONFIG.merge(Config(s3={"addressing_style": "virtual"})))


def credentials():
    """The credentials the clients sign with (botocore's, refreshed by it when they expire)."""
    return _session().get_credentials()


@cache
def queue_url(name: str) -> str:
    return client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


config.on_reset(client.cache_clear)
config.on_reset(_session.cache_clear)
config.on_reset(botocore_session.cache_clear)
config.on_reset(queue_url.cache_clear)


# Independent reads of one request sent at once (`together`): a request's latency is then its
# longest chain of reads, not their sum (docs/benchmarks.md, "critical path").
_worker = threading.local()


def _mark_worker() -> None:
    _worker.active = True


@cache
def _workers() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(WORKERS, thread_name_prefix="aws", initializer=_mark_worker)


def _in_worker() -> bool:
    return getattr(_worker, "active", False)


def together(*reads: Callable[[], object]) -> list:
    """The results of independent reads, in order, sent at once: the first in the caller's thread,
    the others on the shared workers, each in a copy of the caller's context. Called from a worker,
    the reads run one after the other in it (a worker waiting on the pool could wait on itself)."""
    if len(reads) <= 1 or _in_worker():
        return [read() for read in reads]
    others = [_workers().submit(contextvars.copy_context().run, read) for read in reads[1:]]
    return [reads[0](), *(future.result() for future in others)]


def each(call: Callable, items: Iterable) -> list:
    """`call` of every item, in order, sent at once on the shared workers (at most `WORKERS` at a
    time for the whole process); in line when called from a worker, as `together`."""
    items = list(items)
    if len(items) <= 1 or _in_worker():
        return [call(item) for item in items]
    futures = [_workers().submit(contextvars.copy_context().run, call, item) for item in items]
    return [future.result() for future in futures]


def back_off(attempt: int) -> None:
    """Jittered exponential wait before another attempt: at rows other requests are changing (every
    share write: `shares.add_series`, `remove_series`, ingest's transactions), or at keys a batch
    read left unprocessed (`rows`)."""
    time.sleep(random.uniform(0, min(0.5, 0.01 * 2 ** attempt)))
