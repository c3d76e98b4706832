"""The emulator's quick SigV4 check (`devstack/s3_auth.py`, `_plain_signature`) computes, for every
request it takes, the signature botocore's S3 signer computes, so it accepts exactly what the
botocore check accepts; requests it does not take are left to botocore's."""
from __future__ import annotations

import random

from devstack import s3_auth, s3_bodies

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


AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # the example key pair of AWS's SigV4 pages
AWS_SCOPE = "20130524T000000Z\n20130524/us-east-1/s3/aws4_request"


def _chain(seed: str, chunks: list[bytes]) -> list[str]:
    key, signatures = s3_auth._signing_key(AWS_SECRET, "20130524", "us-east-1", "s3"), [seed]
    for data in chunks:
        signatures.append(s3_bodies.chunk_signature(key, AWS_SCOPE, signatures[-1], data))
    return signatures[1:]


def test_chunk_signatures_are_those_of_aws_worked_example():
    """AWS's "sigv4-streaming" page (Example: PUT Object) signs 65 KiB of `a` in chunks of 64 KiB,
    1 KiB and none, from the seed signature of its Authorization header; the emulator's chain is
    the published one, signature for signature (botocore cannot build such a body: it sends no
    signed chunks)."""
    assert _chain("4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9", [b"a" * 65536, b"a" * 1024, b""]) == [
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"]


def test_the_trailer_signature_is_that_of_aws_worked_example():
    """AWS's "sigv4-streaming-trailers" page: the same body with an `x-amz-checksum-crc32c` trailer
    (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`), its chunk signatures and the trailer's."""
    chain = _chain("106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e", [b"a" * 65536, b"a" * 1024, b""])
    assert chain == ["b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
                     "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
                     "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992"]
    key = s3_auth._signing_key(AWS_SECRET, "20130524", "us-east-1", "s3")
    assert s3_bodies.trailer_signature(key, AWS_SCOPE, chain[-1], {"x-amz-checksum-crc32c": "sOO8/Q=="}) == \
        "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"
