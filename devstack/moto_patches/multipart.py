"""S3's answer to a multipart upload id it does not know: moto's UploadPart, UploadPartCopy,
CompleteMultipartUpload and ListParts' truncation test look the id up without checking it
(`bucket.multiparts[id]`), so an unknown or finished upload was a 500 HTML page; S3 answers
404 `NoSuchUpload`, as moto already does for AbortMultipartUpload and ListParts."""
from __future__ import annotations

import inspect
from functools import wraps

from moto.s3.exceptions import NoSuchUpload
from moto.s3.models import S3Backend


def _known_upload(method, bucket_argument: str = "bucket_name"):
    """`method` of S3Backend, refusing an upload id its bucket does not hold."""

    signature = inspect.signature(method)

    @wraps(method)
    def checked(self, *args, **kwargs):
        given = signature.bind(self, *args, **kwargs).arguments
        if given["multipart_id"] not in self.get_bucket(given[bucket_argument]).multiparts:
            raise NoSuchUpload(upload_id=given["multipart_id"])
        return method(self, *args, **kwargs)

    checked.obelisk_patched = True
    return checked


def install() -> None:
    if getattr(S3Backend.upload_part, "obelisk_patched", False):
        return
    S3Backend.upload_part = _known_upload(S3Backend.upload_part)
    S3Backend.complete_multipart_upload = _known_upload(S3Backend.complete_multipart_upload)
    S3Backend.is_truncated = _known_upload(S3Backend.is_truncated)
    S3Backend.upload_part_copy = _known_upload(S3Backend.upload_part_copy, "dest_bucket_name")
