"""Every received byte is stored once: after storing a series of each modality and reading it as
a viewer and a downloader do (QIDO, metadata, every frame, a rendered image, the series, a zip),
the bucket's permanent objects hold at most 1.1 times the Part-10 bytes received; what the reads
built lives under `cache/`, which the bucket's lifecycle rule expires (docs/storage.md)."""
from __future__ import annotations

import json

import pytest

from bench import storage
from devstack.bootstrap import aws_client

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def figures(stack, tokens):
    s3 = aws_client("s3", stack.emulator_url)
    measured = storage.measure(stack.api_url, tokens("alice"), s3, f"obelisk-{stack.stage}-dicom")
    print(json.dumps(measured, indent=1))
    return measured


@pytest.mark.parametrize("modality", ["CT 512x512", "MR 256x256", "DX 4096x4096", "US multi-frame",
                                      "JPEG CT 512x512"])
def test_permanent_bytes_are_at_most_1_1_times_the_bytes_received(figures, modality):
    measured = figures[modality]
    assert measured["identical"], "the zip gives back every stored file byte for byte"
    assert measured["permanent"] <= 1.1 * measured["received"], measured
    assert measured["cache"] > 0, "the series, zip and rendered answers were built into the cache"


def test_the_local_bucket_expires_the_cache_as_the_template_declares(stack):
    rules = aws_client("s3", stack.emulator_url).get_bucket_lifecycle_configuration(
        Bucket=f"obelisk-{stack.stage}-dicom")["Rules"]
    cache = next(r for r in rules if r["Filter"].get("Prefix") == "cache/")
    assert cache["Status"] == "Enabled" and cache["Expiration"]["Days"] >= 1
