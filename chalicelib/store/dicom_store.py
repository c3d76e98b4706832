"""The S3 DICOM store: Part-10 files as received and the renditions written at ingest so that
every read is one GET of an object whose stored Content-Type makes S3's answer conformant."""
from __future__ import annotations

from chalicelib.config import settings
from chalicelib.dicom import multipart
from chalicelib.store.aws import client

INSTANCE_BOUNDARY = "obelisk-instance-boundary"
INSTANCE_MULTIPART_TYPE = f'multipart/related; type="application/dicom"; boundary={INSTANCE_BOUNDARY}'


def part10_key(study: str, series: str, sop: str) -> str:
    return f"dicom/{study}/{series}/{sop}.dcm"


def instance_multipart_key(study: str, series: str, sop: str) -> str:
    return f"wado/{study}/{series}/{sop}/instance"


def instance_keys(study: str, series: str, sop: str) -> list[str]:
    return [part10_key(study, series, sop), instance_multipart_key(study, series, sop)]


def put_instance(study: str, series: str, sop: str, transfer_syntax: str, data: bytes) -> None:
    """Writes the Part-10 file and its WADO-RS rendition (a one-part multipart/related)."""
    s3 = client("s3")
    bucket = settings().dicom_bucket
    s3.put_object(Bucket=bucket, Key=part10_key(study, series, sop), Body=data,
                  ContentType="application/dicom")
    part_type = f'application/dicom; transfer-syntax={transfer_syntax}'
    s3.put_object(
        Bucket=bucket,
        Key=instance_multipart_key(study, series, sop),
        Body=multipart.build([(part_type, data)], INSTANCE_BOUNDARY),
        ContentType=f'{INSTANCE_MULTIPART_TYPE}; transfer-syntax={transfer_syntax}',
    )


def delete_objects(keys: list[str]) -> None:
    if keys:
        client("s3").delete_objects(
            Bucket=settings().dicom_bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
        )


def presigned_get(key: str) -> str:
    return client("s3").generate_presigned_url(
        "get_object",
        Params={"Bucket": settings().dicom_bucket, "Key": key},
        ExpiresIn=settings().presign_seconds,
    )


def read(key: str) -> bytes:
    return client("s3").get_object(Bucket=settings().dicom_bucket, Key=key)["Body"].read()


def bucket_answers() -> bool:
    client("s3").head_bucket(Bucket=settings().dicom_bucket)
    return True
