"""The checksum an object stored from an aws-chunked body is read back with (GetObject and
HeadObject with `x-amz-checksum-mode: ENABLED`) is the one in its trailer, which the emulator has
checked against the body (`devstack/s3_bodies.py`, `TRAILER_CHECKSUM`). moto's
`S3Response._get_checksum` took the first `x-amz-checksum-...:...=` it found anywhere in the raw
body instead, so a body carrying such text (a log, a mail) was stored with that text's value, and
boto3 refused the body it read back. Requests without a checked trailer keep moto's own answer."""
from __future__ import annotations

from typing import Any

from moto.s3.responses import S3Response

from devstack import s3_bodies


def install() -> None:
    original = S3Response._get_checksum
    if getattr(original, "obelisk_patched", False):
        return

    def _get_checksum(self: S3Response, response_headers: dict[str, Any]) -> tuple[str, str | None]:
        checked = self.request.environ.get(s3_bodies.TRAILER_CHECKSUM)
        algorithm = self.headers.get("x-amz-sdk-checksum-algorithm", "")
        if checked is None or checked[0] != algorithm.upper() or self.headers.get(f"x-amz-checksum-{algorithm.lower()}"):
            return original(self, response_headers)  # a checksum header, or no checked trailer: moto's reading
        response_headers[f"x-amz-checksum-{algorithm.lower()}"] = checked[1]
        return algorithm, checked[1]

    _get_checksum.obelisk_patched = True
    S3Response._get_checksum = _get_checksum
