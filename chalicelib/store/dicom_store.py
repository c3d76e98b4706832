"""The S3 DICOM store: each received byte once, and the objects derived from it under a cache
prefix that the bucket's lifecycle rule expires (docs/storage.md).

Permanent layout (docs/dicomweb.md): `dicom/{st}/{se}/{sop}/{gen}.parts` (the Part-10 file's
skeleton: its bytes but the frames', `dicom.skeleton`) and `wado/{st}/{se}/{sop}/{gen}/frames/{n}`
(each frame once, as the one-part multipart/related a frame redirect answers with). Everything
else is derived and rebuilt when missing, under `cache/`: the instance's metadata document
(`cache/wado/.../metadata.json`), the Part-10 file joined again (`cache/dicom/...dcm`), the
instance multipart, bulk data, rendered images and thumbnails, several-frame answers, series
metadata and multipart (keyed by instance count), study answers and zips
(`cache/wado/{st}/assembled/...`). `uploads/...` holds large STOW bodies until ingested.

Instances stored before (`dicom/...{gen}.dcm` whole, and their `wado/` renditions) are still read
as they are; `store.storage_migration` brings them to this layout. The permanent metadata document
they have (`legacy_instance_metadata_key`) is no longer read.

Generations: a presigned URL names an object, not its content, and outlives a purge (docs/data-model.md:
the same UIDs may then be stored again, by anyone). So every object that could be written again
under the same name carries the generation of the record it derives from (`InstanceRecord.generation`,
`SeriesRecord.generation`), random per record: a series or instance purged and stored again gets
new names, and an old URL finds nothing. Records written before generations (`None`) keep the
names without the segment."""
from __future__ import annotations

import gzip
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from urllib.parse import urlsplit, urlunsplit

from chalicelib.config import on_reset, settings
from chalicelib.dicom import frames, multipart, skeleton
from chalicelib.store import aws, s3_put
from chalicelib.store.aws import client

# The prefixes of every object a read is redirected to (`presigned_get`): the paths a public origin
# forwards to the bucket (infra/site.yaml's cache behaviours, devstack/static_site.py).
READ_PREFIXES = ("dicom/", "wado/", "cache/")
# The header the public origin adds to every request it forwards to the API (CloudFront's origin
# custom header, infra/site.yaml; the local front door's): the reader came through it, and is
# redirected to it (`reader_at_public_origin`).
PUBLIC_ORIGIN_HEADER = "X-Obelisk-Public-Origin"
_at_public_origin: ContextVar[bool] = ContextVar("reader_at_public_origin", default=False)
INSTANCE_BOUNDARY = "obelisk-instance-boundary"
INSTANCE_MULTIPART_TYPE = f'multipart/related; type="application/dicom"; boundary={INSTANCE_BOUNDARY}'
FRAME_BOUNDARY = "obelisk-frame-boundary"
PART_SIZE = 8 * 1024 * 1024  # S3 multipart parts: at least 5 MiB except the last


def new_generation() -> str:
    """A random name segment for a new instance or series record (64 bits: unique per re-creation)."""
    return secrets.token_hex(8)


def _segment(generation: str | None) -> str:
    return f"{generation}/" if generation else ""


CACHE = "cache/"  # derived objects: the bucket's lifecycle rule expires them (infra/resources.yaml)


def cached(key: str) -> str:
    """The name of a derived object: rebuilt on read when the lifecycle rule has expired it."""
    return CACHE + key


def part10_key(study: str, series: str, sop: str, *, generation: str | None) -> str:
    """The whole Part-10 file as stored before skeletons (read as it is until migrated)."""
    if not generation:
        return f"dicom/{study}/{series}/{sop}.dcm"
    return f"dicom/{study}/{series}/{sop}/{generation}.dcm"


def skeleton_key(study: str, series: str, sop: str, *, generation: str | None) -> str:
    """The Part-10 file without its frames' bytes (`dicom.skeleton`): the permanent copy."""
    return part10_key(study, series, sop, generation=generation).removesuffix(".dcm") + ".parts"


def joined_part10_key(study: str, series: str, sop: str, *, generation: str | None) -> str:
    """The Part-10 file joined from skeleton and frames, for a WADO-URI redirect."""
    return cached(part10_key(study, series, sop, generation=generation))


def instance_prefix(study: str, series: str, sop: str, *, generation: str | None) -> str:
    """Every permanent object of one instance but its skeleton is under it (`cached` of it: the
    derived ones)."""
    return f"wado/{study}/{series}/{sop}/" + _segment(generation)


def legacy_instance_multipart_key(study: str, series: str, sop: str, *, generation: str | None) -> str:
    return instance_prefix(study, series, sop, generation=generation) + "instance"


def instance_multipart_key(study: str, series: str, sop: str, *, generation: str | None) -> str:
    return cached(legacy_instance_multipart_key(study, series, sop, generation=generation))


def legacy_instance_metadata_key(study: str, series: str, sop: str, *, generation: str | None) -> str:
    """The metadata document STOW wrote before it was derived: deleted by `store.storage_migration`."""
    return instance_prefix(study, series, sop, generation=generation) + "metadata.json"


def instance_metadata_key(study: str, series: str, sop: str, *, generation: str | None) -> str:
    """The instance's metadata document, derived from its skeleton on its first read."""
    return cached(legacy_instance_metadata_key(study, series, sop, generation=generation))


def frame_key(study: str, series: str, sop: str, number: int, *, generation: str | None) -> str:
    return instance_prefix(study, series, sop, generation=generation) + f"frames/{number}"


def derived_frame_key(study: str, series: str, sop: str, number: int, *, generation: str | None) -> str:
    """A frame of an instance kept whole (no permanent frame objects), cut on its first read."""
    return cached(frame_key(study, series, sop, number, generation=generation))


def frames_key(study: str, series: str, sop: str, numbers: list[int], *, generation: str | None) -> str:
    """Several frames in one answer."""
    return cached(instance_prefix(study, series, sop, generation=generation) + "frames/" + ",".join(map(str, numbers)))


def bulk_key(study: str, series: str, sop: str, path: str, *, generation: str | None) -> str:
    return cached(instance_prefix(study, series, sop, generation=generation) + f"bulk/{path}")


def image_key(study: str, series: str, sop: str, kind: str, *, generation: str | None) -> str:
    """`rendered` or `thumbnail` JPEG of the first frame."""
    return cached(instance_prefix(study, series, sop, generation=generation) + f"{kind}.jpeg")


def series_prefix(study: str, series: str, *, generation: str | None) -> str:
    return cached(f"wado/{study}/{series}/series/" + _segment(generation))


def series_metadata_key(study: str, series: str, count: int, *, generation: str | None) -> str:
    return series_prefix(study, series, generation=generation) + f"metadata-{count}.json"


def series_multipart_key(study: str, series: str, count: int, *, generation: str | None) -> str:
    return series_prefix(study, series, generation=generation) + f"instances-{count}"


def assembled_key(study: str, name: str) -> str:
    return cached(f"wado/{study}/assembled/{name}")


def assembled_prefixes(study: str) -> list[str]:
    """Where a study's assembled answers are, and were before the cache prefix."""
    return [assembled_key(study, ""), f"wado/{study}/assembled/"]


def upload_key(upload_id: str) -> str:
    return f"uploads/{upload_id}/body"


def upload_result_key(upload_id: str) -> str:
    return f"uploads/{upload_id}/result.json"


def dicom_part_type(transfer_syntax: str) -> str:
    return f"application/dicom; transfer-syntax={transfer_syntax}"


def put(key: str, body: bytes, content_type: str, **extra) -> None:
    """One object written (`s3_put`: the lean PutObject, boto3's for anything it does not handle)."""
    s3_put.put_object(settings().dicom_bucket, key, body, ContentType=content_type, **extra)


def put_all(objects: list[tuple]) -> None:
    """Writes independent objects concurrently (on the shared workers, `aws.each`): (key, body,
    content type) each, and optionally a dict of further `put_object` arguments."""
    aws.each(lambda o: put(o[0], o[1], o[2], **(o[3] if len(o) > 3 else {})), objects)


def instance_objects(study: str, series: str, sop: str, transfer_syntax: str, data: bytes, *,
                     generation: str | None, dataset, cut: Iterable[bytes] | None = None) -> list[tuple]:
    """The instance's permanent objects, for `put_all`: each frame once (the
    object a frame redirect names) and the Part-10 file's skeleton, from which and the frames it
    is joined again. A file whose frames are not found in it byte for byte (deflated, 1-bit frames
    not ending on a byte) is kept whole as its skeleton, and its frames are derived on read
    (`derived_frame_key`). `cut`: the dataset's frames when the caller cut them already."""
    cut = list(frames.frames(dataset) if cut is None else cut)
    spans, rest = skeleton.split(data, dataset, cut)
    objects = [(skeleton_key(study, series, sop, generation=generation), skeleton.encode(spans, rest),
                "application/octet-stream")]
    if spans:
        objects += [(frame_key(study, series, sop, number, generation=generation),
                     *octet_multipart([frame], transfer_syntax)) for number, frame in enumerate(cut, start=1)]
    return objects


def frame_payload_offset(transfer_syntax: str | None) -> int:
    """Where a frame's bytes start in its stored object (after the part's head)."""
    return len(multipart.part_head(_octet_part_type(transfer_syntax), FRAME_BOUNDARY))


def part10_chunks(study: str, series: str, sop: str, transfer_syntax: str, *, generation: str | None) -> Iterator[bytes]:
    """The stored Part-10 file's bytes, joined from its skeleton and frame objects (or read whole
    when stored before skeletons); each frame range is fetched ahead, on the shared workers (`aws.each`)."""
    body = read_if_present(skeleton_key(study, series, sop, generation=generation))
    if body is None:
        yield from read_chunks(part10_key(study, series, sop, generation=generation))
        return
    yield from joined_chunks(study, series, sop, transfer_syntax, *skeleton.decode(body), generation=generation)


def joined_chunks(study: str, series: str, sop: str, transfer_syntax: str, spans: list[skeleton.Span], rest: bytes, *,
                  generation: str | None) -> Iterator[bytes]:
    """`part10_chunks` from a skeleton already read and decoded (`spans`, `rest`)."""
    start = frame_payload_offset(transfer_syntax)

    def fetch(span: skeleton.Span) -> bytes:
        _, length, number, at = span
        return read_range(frame_key(study, series, sop, number, generation=generation), start + at, length)

    fetched = {(s[2], s[3]): data for s, data in zip(spans, aws.each(fetch, spans), strict=True)}
    yield from skeleton.join(spans, rest, lambda number, at, _: fetched[(number, at)])


def _octet_part_type(transfer_syntax: str | None) -> str:
    return "application/octet-stream" + (f"; transfer-syntax={transfer_syntax}" if transfer_syntax else "")


def octet_multipart(chunks: list[bytes], transfer_syntax: str | None = None) -> tuple[bytes, str]:
    """(body, Content-Type) of a multipart/related of application/octet-stream parts."""
    part_type = _octet_part_type(transfer_syntax)
    body = multipart.build([(part_type, c) for c in chunks], FRAME_BOUNDARY)
    content_type = f'multipart/related; type="application/octet-stream"; boundary={FRAME_BOUNDARY}'
    if transfer_syntax:
        content_type += f"; transfer-syntax={transfer_syntax}"
    return body, content_type


def keys_under(prefix: str) -> list[str]:
    listed = client("s3").get_paginator("list_objects_v2").paginate(Bucket=settings().dicom_bucket, Prefix=prefix)
    return [o["Key"] for page in listed for o in page.get("Contents", [])]


def instance_keys(study: str, series: str, sop: str, *, generation: str | None) -> list[str]:
    """Every object ingest may have written for one instance of this generation."""
    prefix = instance_prefix(study, series, sop, generation=generation)
    return [skeleton_key(study, series, sop, generation=generation), *keys_under(prefix), *keys_under(cached(prefix))]


def _is_generation(segment: str) -> bool:
    return len(segment) == 16 and all(c in "0123456789abcdef" for c in segment)


def generation_of(key: str) -> str | None:
    """The generation a `dicom/` or `wado/{st}/{se}/` key (or its `cached` name) is named with;
    None for names without one."""
    parts = key.removeprefix(CACHE).split("/")
    if parts[0] == "dicom" and len(parts) == 5:
        return parts[4].split(".")[0]
    if parts[0] == "wado" and len(parts) > 5 and _is_generation(parts[4]):
        return parts[4]
    return None


def series_objects(study: str, series: str, generations: set[str]) -> list[str]:
    """The objects of a series of these generations (its row's and its instances', permanent and
    cached), and those named without one: a purge deletes them and leaves those of a series
    stored again meanwhile."""
    prefixes = [f"dicom/{study}/{series}/", f"wado/{study}/{series}/"]
    listed = [k for prefix in prefixes for k in [*keys_under(prefix), *keys_under(cached(prefix))]]
    return [k for k in listed if generation_of(k) in (generations | {None})]


def delete_objects(keys: list[str]) -> None:
    for start in range(0, len(keys), 1000):
        client("s3").delete_objects(
            Bucket=settings().dicom_bucket,
            Delete={"Objects": [{"Key": k} for k in keys[start:start + 1000]], "Quiet": True},
        )


def presigned_get(key: str, **response_overrides: str) -> str:
    """Where a reader is redirected to read `key`: a presigned GET (its signature and expiry decide).
    For a reader who came through the public origin (`reader_at_public_origin`) when the bucket is
    behind it too (`settings().public_storage_endpoint`), the URL is on that origin: the path and
    query of a GET presigned virtual-hosted for the host the origin sends to the bucket, so that a
    client carrying the API's Host header along the redirect names a host that is the origin's own
    (docs/dicomweb.md, "Which URL"). Anyone else gets the bucket's own URL."""
    params = {"Bucket": settings().dicom_bucket, "Key": key, **response_overrides}
    if not (settings().public_storage_endpoint and _at_public_origin.get() and key.startswith(READ_PREFIXES)):
        return client("s3").generate_presigned_url("get_object", Params=params, ExpiresIn=settings().presign_seconds)
    signed = urlsplit(_behind_public_origin().generate_presigned_url(
        "get_object", Params=params, ExpiresIn=settings().presign_seconds))
    origin = urlsplit(settings().public_url)
    return urlunsplit((origin.scheme, origin.netloc, signed.path, signed.query, ""))


@contextmanager
def reader_at_public_origin(at: bool) -> Iterator[None]:
    """While answering a request that came through the public origin (`at`), reads are redirected
    to it (`presigned_get`); set for every request by the API's routing."""
    token = _at_public_origin.set(at)
    try:
        yield
    finally:
        _at_public_origin.reset(token)


@cache
def _behind_public_origin():
    """The S3 client that signs for the bucket as the public origin reaches it: virtual-hosted at
    `public_storage_endpoint` (`{bucket}.s3.{region}.amazonaws.com` on AWS), so that the signed path
    is the key alone, the path the origin forwards unchanged."""
    return aws.virtual_hosted_s3(settings().public_storage_endpoint)


on_reset(_behind_public_origin.cache_clear)


def presigned_put(key: str, content_type: str) -> str:
    return client("s3").generate_presigned_url(
        "put_object",
        Params={"Bucket": settings().dicom_bucket, "Key": key, "ContentType": content_type},
        ExpiresIn=settings().presign_seconds * 12,
    )


def start_multipart(key: str, content_type: str) -> str:
    """An S3 multipart upload at `key`; returns its UploadId."""
    return client("s3").create_multipart_upload(Bucket=settings().dicom_bucket, Key=key,
                                                ContentType=content_type)["UploadId"]


def presigned_part(key: str, multipart_id: str, number: int) -> str:
    """A presigned PUT of part `number` of a multipart upload (lives as long as presigned_put's)."""
    return client("s3").generate_presigned_url(
        "upload_part",
        Params={"Bucket": settings().dicom_bucket, "Key": key, "UploadId": multipart_id, "PartNumber": number},
        ExpiresIn=settings().presign_seconds * 12,
    )


class NoSuchUpload(LookupError):
    """The multipart upload is gone (completed, or aborted by the bucket's lifecycle rule)."""


def uploaded_parts(key: str, multipart_id: str) -> list[dict]:
    """The parts S3 holds of a multipart upload, as CompleteMultipartUpload wants them."""
    pages = client("s3").get_paginator("list_parts").paginate(Bucket=settings().dicom_bucket, Key=key,
                                                               UploadId=multipart_id)
    try:
        return [{"PartNumber": p["PartNumber"], "ETag": p["ETag"], "Size": p["Size"]}
                for page in pages for p in page.get("Parts", [])]
    except client("s3").exceptions.NoSuchUpload as error:
        raise NoSuchUpload(multipart_id) from error


def complete_multipart(key: str, multipart_id: str, parts: list[dict]) -> None:
    client("s3").complete_multipart_upload(
        Bucket=settings().dicom_bucket, Key=key, UploadId=multipart_id,
        MultipartUpload={"Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in parts]})


def read(key: str) -> bytes:
    return client("s3").get_object(Bucket=settings().dicom_bucket, Key=key)["Body"].read()


def put_compressed(key: str, body: bytes, content_type: str) -> None:
    """Stored gzipped with `Content-Encoding: gzip` (a presigned GET hands it to HTTP clients,
    which decode it); `read_decoded` reads it back."""
    put(key, gzip.compress(body, 6), content_type, ContentEncoding="gzip")


def read_decoded(key: str) -> bytes:
    """An object's bytes, decoded when stored gzipped (`put_compressed`)."""
    answer = client("s3").get_object(Bucket=settings().dicom_bucket, Key=key)
    body = answer["Body"].read()
    return gzip.decompress(body) if answer.get("ContentEncoding") == "gzip" else body


def read_if_present(key: str) -> bytes | None:
    try:
        return read(key)
    except client("s3").exceptions.NoSuchKey:
        return None


def read_range(key: str, start: int, length: int) -> bytes:
    if length == 0:
        return b""
    answer = client("s3").get_object(Bucket=settings().dicom_bucket, Key=key, Range=f"bytes={start}-{start + length - 1}")
    return answer["Body"].read()


def read_chunks(key: str, size: int = 1024 * 1024) -> Iterator[bytes]:
    """An object's bytes as a stream of chunks (nothing more than a chunk held here)."""
    yield from client("s3").get_object(Bucket=settings().dicom_bucket, Key=key)["Body"].iter_chunks(size)


def head(key: str) -> dict | None:
    """The object's headers (ETag, ContentLength, ContentType, Metadata), or None when absent."""
    try:
        return client("s3").head_object(Bucket=settings().dicom_bucket, Key=key)
    except client("s3").exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def put_streamed(key: str, chunks: Iterable[bytes], content_type: str, **extra) -> int:
    """Writes a large object from a stream of chunks with an S3 multipart upload, holding at most
    one part in memory. Returns the size written."""
    s3, bucket = client("s3"), settings().dicom_bucket
    upload_id: str | None = None
    parts: list[dict] = []
    buffer = bytearray()
    size = 0

    def flush(final: bool) -> None:
        nonlocal upload_id
        if upload_id is None:
            if final:
                s3.put_object(Bucket=bucket, Key=key, Body=bytes(buffer), ContentType=content_type, **extra)
                return
            upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType=content_type,
                                                   **extra)["UploadId"]
        number = len(parts) + 1
        answer = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=bytes(buffer))
        parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        buffer.clear()

    try:
        for chunk in chunks:
            buffer += chunk
            size += len(chunk)
            if len(buffer) >= PART_SIZE:
                flush(False)
        flush(True)
        if upload_id is not None:
            s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                         MultipartUpload={"Parts": parts})
    except Exception:
        if upload_id is not None:
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise
    return size


def multipart_stream(bodies_and_types: Iterable[tuple[Iterable[bytes], str]], boundary: str) -> Iterator[bytes]:
    """A multipart/related body streamed from stored objects, one part per (chunks, type)."""
    for chunks, part_type in bodies_and_types:
        yield multipart.part_head(part_type, boundary)
        yield from chunks
        yield multipart.CRLF
    yield multipart.closing(boundary)


def bucket_answers() -> bool:
    client("s3").head_bucket(Bucket=settings().dicom_bucket)
    return True
