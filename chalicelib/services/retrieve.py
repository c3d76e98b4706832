"""WADO-RS: authorizes a read, then points the client at the bytes in S3 (a presigned URL)."""
from __future__ import annotations

from chalicelib.auth import policy
from chalicelib.auth.principals import Principal
from chalicelib.errors import NotFound
from chalicelib.store import dicom_store
from chalicelib.store.models import InstanceRecord


def instance_location(principal: Principal, study: str, series: str, sop: str,
                      source: policy.Source = policy.Source()) -> str:
    """A short-lived URL of the instance's multipart/related rendition."""
    policy.authorize_series_read(principal, study, series, source)
    try:
        InstanceRecord.get(*InstanceRecord.key(study, series, sop))
    except InstanceRecord.DoesNotExist as error:
        raise NotFound("Instance does not exist or you don't have access", message="Instance Not Found") from error
    return dicom_store.presigned_get(dicom_store.instance_multipart_key(study, series, sop))
