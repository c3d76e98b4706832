"""The emulator's quick SigV4 check (`devstack/s3_auth.py`, `_plain_signature`) computes, for every
request it takes, the signature botocore's S3 signer computes, so it accepts exactly what the
botocore check accepts; requests it does not take are left to botocore's."""
from __future__ import annotations

import random

from devstack import s3_auth

NAMES = ["host", "x-amz-date", "x-amz-content-sha256", "content-type", "content-length", "content-md5",
         "x-amz-checksum-crc32", "x-amz-sdk-checksum-algorithm", "x-amz-meta-a", "content-encoding", "range"]
VALUES = ["application/dicom", "  spaced   out  value ", "a\tb", "", "gzip", "bytes=0-9", "UNSIGNED-PAYLOAD", "é"]
PATHS = ["/bucket/key", "/b.k-t/a/b/c.d~e_f", "/", "/bucket/", "/bucket/sp%20ace", "/bucket/a?b", "/bucket//x"]


def _environ(rng) -> tuple[dict, str, list[str]]:
    names = rng.sample(NAMES, rng.randint(1, len(NAMES)))
    if rng.random() < 0.8 and "host" not in names:
        names.append("host")
    if rng.random() < 0.1:
        names.append(rng.choice(["expect", "Content-Type", "user-agent", names[0]]))
    environ = {"REQUEST_METHOD": rng.choice(["PUT", "GET", "put", "HEAD"]), "RAW_URI": rng.choice(PATHS),
               "QUERY_STRING": rng.choice(["", "", "", "acl"]),
               "HTTP_HOST": rng.choice(["127.0.0.1:4566", "localhost", "s3.amazonaws.com", "a/b:1", "h@x:2"]),
               "HTTP_X_AMZ_DATE": "20261207T061500Z", "HTTP_X_AMZ_CONTENT_SHA256": "UNSIGNED-PAYLOAD"}
    for name in rng.sample(NAMES, rng.randint(0, len(NAMES))):
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = rng.choice(VALUES)
    return environ, ";".join(names), ["local", "20261207", rng.choice(["us-east-1", "eu-west-3"]), "s3", "aws4_request"]


def test_the_quick_signature_is_botocores_wherever_it_is_computed():
    """3,000 random requests (methods, paths plain and not, hosts, any signed headers among them
    blacklisted, repeated or capitalised ones, values with runs of spaces, tabs, empty and
    non-ASCII): where `_plain_signature` computes a signature it is the one botocore's signer
    (the check it stands in for) computes for the request as received."""
    rng = random.Random(9)
    computed = 0
    for _ in range(3000):
        environ, signed, scope = _environ(rng)
        quick = s3_auth._plain_signature(environ, scope, signed, "UNSIGNED-PAYLOAD", "20261207T061500Z")
        if quick is None:
            continue
        signer = s3_auth._HeaderVerifier(s3_auth.Credentials("local", "local"), scope[3], scope[2], "UNSIGNED-PAYLOAD")
        request = s3_auth._request(environ, environ.get("QUERY_STRING", ""), signed)
        assert s3_auth._matches(signer, request, "20261207T061500Z", quick), (environ, signed)
        computed += 1
    assert computed > 300


def test_a_request_outside_the_quick_check_is_left_to_botocore():
    base = {"REQUEST_METHOD": "PUT", "RAW_URI": "/bucket/key", "HTTP_HOST": "127.0.0.1:4566",
            "HTTP_X_AMZ_DATE": "20261207T061500Z"}
    scope = ["local", "20261207", "us-east-1", "s3", "aws4_request"]
    for environ, signed in (({**base, "QUERY_STRING": "acl"}, "host;x-amz-date"),
                            ({**base, "RAW_URI": "/bucket/sp%20ace"}, "host;x-amz-date"),
                            (base, "x-amz-date"), (base, "expect;host"), (base, "host;host"), (base, "Host;x-amz-date"),
                            ({**base, "HTTP_HOST": "a/b"}, "host")):
        assert s3_auth._plain_signature(environ, scope, signed, "UNSIGNED-PAYLOAD", "20261207T061500Z") is None
