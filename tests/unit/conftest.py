import os

import pytest

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def dynamodb_endpoint():
    """`dynamodb_endpoint(status, body, crc=None)`: a local endpoint answering every POST alike
    (`tests.support.dynamodb_endpoint.Endpoint`), closed after the test."""
    from tests.support.dynamodb_endpoint import Endpoint

    endpoints = []

    def start(status: int, body: bytes, crc: int | None = None) -> Endpoint:
        endpoints.append(Endpoint(status, body, crc))
        return endpoints[-1]

    yield start
    for endpoint in endpoints:
        endpoint.close()
