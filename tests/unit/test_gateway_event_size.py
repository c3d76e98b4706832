"""The local gateway sizes a Lambda event as API Gateway builds it (base64 for binary media
types) without encoding the body: the figure is the same, the local server's CPU (counted as the
function's in the bench) no longer includes API Gateway's encoding of every STOW body."""
from __future__ import annotations

import base64
import json
import os

import pytest

from devstack import gateway_limits


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 6, 7, 1000, 4 * 1024 * 1024 + 1])
def test_the_encoded_length_is_base64s(size):
    assert gateway_limits.base64_length(size) == len(base64.b64encode(os.urandom(size)))


def test_a_binary_body_counts_as_its_base64_encoding():
    body = os.urandom(3 * 1000 + 1)
    headers = {"content-type": "application/dicom"}
    expected = len(base64.b64encode(body)) + 2 * len(json.dumps(headers)) + gateway_limits.EVENT_ENVELOPE_BYTES
    assert gateway_limits.event_size(headers, body, ["application/dicom"]) == expected
