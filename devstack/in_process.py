"""The service layer in this process, pointed at a local stack's emulator: for tests' setup the API
cannot do, crashes injected between two writes, and the bench's profiles. Every cached AWS handle (settings, boto3
clients, queue URLs, PynamoDB connections and the transactions' one, the signing key ring) is dropped on the way in and out,
so a module that talked to another stack never reaches a stack that is gone."""
from __future__ import annotations

import contextlib
import os


def _forget_aws_handles() -> None:
    from pynamodb.models import Model

    from chalicelib.auth import signing
    from chalicelib.config import settings
    from chalicelib.store import aws, models

    for cache in (settings, aws.client, aws.queue_url, models._transaction_connection):
        cache.cache_clear()
    signing._cache.update(at=0.0, ring=None)
    pending = list(Model.__subclasses__())
    while pending:
        model = pending.pop()
        model._connection = None
        pending.extend(model.__subclasses__())


@contextlib.contextmanager
def service_layer(stack):
    """Inside the block, `chalicelib` in this process uses `stack` exactly as its API does."""
    environment = stack.api_environment()
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    _forget_aws_handles()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _forget_aws_handles()
