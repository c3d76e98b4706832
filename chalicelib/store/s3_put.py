"""A lean S3 PutObject for the objects Obelisk writes (`dicom_store.put`: a STOW's skeletons,
frames and metadata documents, cached renditions). boto3's `put_object` costs 2-3 ms of CPU per
call whatever the body's size (event hooks, parameter validation, endpoint rules, the User-Agent
built twice, response parsing: docs/benchmarks.md, "STOW's botocore cost"), 3 of them per
instance. This sends the same request with less around it: the PUT that boto3 would send with
path-style addressing, SigV4-signed with the clients' credentials and region (`signed_http.sign`,
checked against botocore's own signer), sent with urllib3 on connections kept like the clients'
(`aws.CONNECTIONS`, `signed_http.Connections`).
The body carries a CRC32 checksum (`x-amz-checksum-crc32`, signed with the other headers), which
S3 computes again and refuses the write on a mismatch (400 `BadDigest`), as the local emulator does
(`devstack/emulator.py`); over HTTPS (the DICOM bucket refuses anything else: infra/resources.yaml)
and to the emulator on loopback the body itself is not hashed into the signature
(`UNSIGNED-PAYLOAD`, what AWS SDKs send over HTTPS: TLS guards against tampering, the CRC32 against
corruption), at a small part of the CPU of the body's SHA-256 it replaces (0.01 vs 0.30 ms per
512 KiB frame; docs/benchmarks.md, "STOW's API CPU, s7"). A plain-HTTP endpoint elsewhere gets the
body's SHA-256 signed too, as botocore does.

Anything it does not handle goes to boto3 unchanged: parameters other than those in `HEADERS`, and
any answer but 200 or a connection error, after which boto3's `put_object` sends the write again
(with its retries, and raising its `ClientError`), so a failed write costs one request more than
through boto3 alone. What it costs in maintenance: this module follows S3's PutObject as boto3
sends it (path-style URL, SigV4 headers, S3's flexible checksum headers); proxy settings and client-side checksums (object lock
buckets need Content-MD5 or a checksum: the DICOM bucket has no object lock, infra/resources.yaml)
are not handled here; `tests/unit/test_s3_put.py` pins the request, the integration tests the
objects as read back."""
from __future__ import annotations

import base64
import hashlib
from urllib.parse import quote, urlsplit

import urllib3
from isal import isal_zlib

from chalicelib import config
from chalicelib.store import aws, signed_http

HEADERS = {"ContentType": "Content-Type", "ContentEncoding": "Content-Encoding"}
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _connections() -> signed_http.Connections:
    return signed_http.connections()


def _payload_hash(url: str, body: bytes) -> str:
    """`UNSIGNED-PAYLOAD` where nothing can change the request on its way (HTTPS, or the local
    emulator on loopback): the body's integrity is then its signed CRC32 header, which S3 checks.
    On a plain-HTTP endpoint elsewhere the body's SHA-256, as botocore signs it."""
    parts = urlsplit(url)
    if parts.scheme == "https" or parts.hostname in LOOPBACK:
        return signed_http.UNSIGNED_PAYLOAD
    return hashlib.sha256(body).hexdigest()


def crc32(body: bytes) -> str:
    """`x-amz-checksum-crc32`'s value: the base64 of the body's CRC32, big endian (ISA-L's, the
    same CRC as zlib's at 9 against 126 microseconds a 512 KiB frame)."""
    return base64.b64encode(isal_zlib.crc32(body).to_bytes(4, "big")).decode()


def signed_request(bucket: str, key: str, body: bytes, headers: dict[str, str]) -> signed_http.SignedRequest:
    """The PutObject request as sent: path-style URL on the S3 client's endpoint, the body's CRC32
    in `x-amz-checksum-crc32`, SigV4-signed (`signed_http.sign`) with an unsigned payload."""
    url = f"{aws.client('s3').meta.endpoint_url.rstrip('/')}/{bucket}/{quote(key, safe='/~')}"
    headers = {**headers, "x-amz-checksum-crc32": crc32(body), "x-amz-sdk-checksum-algorithm": "CRC32"}
    signed = signed_http.sign("PUT", url, headers, _payload_hash(url, body), "s3", config.settings().region,
                              content_sha256_header=True)
    return signed_http.SignedRequest("PUT", url, body, signed)


def put_object(bucket: str, key: str, body: bytes, **params: str) -> None:
    """Writes the object (boto3's `put_object` arguments); see the module's docstring."""
    if set(params) <= HEADERS.keys() and isinstance(body, bytes):
        prepared = signed_request(bucket, key, body, {HEADERS[name]: value for name, value in params.items()})
        try:
            answer = _connections().request("PUT", prepared.url, body=prepared.body, headers=prepared.headers,
                                            preload_content=True)
            if answer.status == 200:
                return
        except (urllib3.exceptions.HTTPError, OSError):
            pass
    aws.client("s3").put_object(Bucket=bucket, Key=key, Body=body, **params)
