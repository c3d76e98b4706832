"""The service layer in this process, pointed at a local stack's emulator: for tests' setup the API
cannot do, crashes injected between two writes, and the bench's profiles. The configuration and everything built
from it (boto3 clients, queue URLs, PynamoDB connections, the signing key ring: `chalicelib.config.reset()`) is
forgotten on the way in and out, so a module that talked to another stack never reaches a stack that is gone."""
from __future__ import annotations

import contextlib
import os

from chalicelib import config


@contextlib.contextmanager
def service_layer(stack):
    """Inside the block, `chalicelib` in this process uses `stack` exactly as its API does."""
    environment = stack.api_environment()
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    config.reset()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        config.reset()
