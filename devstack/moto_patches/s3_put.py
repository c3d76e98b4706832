"""S3 PutObject as the API writes objects, served without moto's Flask dispatch.

A STOW writes three objects per instance (`chalicelib/store/s3_put.py`: a plain path-style PUT,
SigV4 with `UNSIGNED-PAYLOAD`, its CRC32 in `x-amz-checksum-crc32`). Through moto's server each
PUT went through its domain dispatcher, Flask's request context and URL map, flask-cors, moto's
`S3Response.setup_class`, `key_response` and `_key_response` (URL parsing, a key look-up, the
permission walk) before reaching `S3Response.put_object`, and its 512 KiB body was copied five
times on the way (werkzeug's stream read in 64 KiB pieces and joined, moto's buffer, the ETag's
read): ~1.5 ms of the emulator's CPU per PUT.

`answer` serves such a PUT with moto's own pieces in moto's order: moto's server request
(`BackendRequest`) over the same environ; the `S3Response` as its `setup_class` leaves it for
such a request (`_set_up`: the URL as it arrived, the body as read, the querystring moto makes of
the headers, region, account and its visit registered, bucket; moto's `setup_class` also reads
the form and the body through werkzeug's stream, which here hold nothing more); the bucket's
incoming-request log, `_set_action` and the authorization count; moto's own `put_object`
(checksum, lock details, ACL, tagging, metadata, the key stored by `S3Backend.put_object` with
its versioning and notifications); `_send_response` (the request id, drawn from moto's random as
moto draws it); and the answer moto's view gives, as Flask's `Response` and flask-cors send it
(an empty 200 as its header list directly, anything else through `Response`). What a client
reads back (GET, HEAD, ranged GET, listings, ACL, attributes) is the key moto stored.

Anything else goes to moto as before (`answer` returns None): another method, a query string, a
header outside `HEADERS` (ranges, conditions, ACLs, tagging, storage class, encryption, object
lock, user metadata, copy sources, an Origin, an `Expect`), a chunked or `aws-chunked` body, a
streaming payload, a form content type (moto reads those as a form), a checksum algorithm other
than CRC32 or without its header, a host other than a plain name or address (virtual-hosted,
access points), a path that is not a
plain `/bucket/key` of unreserved characters, a bucket that does not exist (moto's
`NoSuchBucket`), has a policy, logging or object lock, moto's recorder on, IAM authorization on
(`INITIAL_NO_AUTH_ACTION_COUNT` reached), or global CORS off. The emulator's S3 checks
(`devstack/s3_auth.py`: signature, clock; `devstack/s3_bodies.py`: checksums) run before, as for every request.
`tests/integration/test_emulator.py::test_object_puts_answer_what_moto_server_itself_answers`
compares the answers, and what is read back, with an unpatched moto server's."""
from __future__ import annotations

import io
import re
from collections import OrderedDict
from urllib.parse import urlparse

from flask import Response
from moto import settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.responses import ActionResult, _decode_dict
from moto.moto_api import recorder
from moto.moto_server.werkzeug_app import BackendRequest
from moto.s3.exceptions import MissingBucket, S3ClientError
from moto.s3.responses import S3Response

from devstack import s3_bodies

HEADERS = frozenset({  # the environ keys a PUT served here may carry
    "HTTP_HOST", "HTTP_AUTHORIZATION", "HTTP_X_AMZ_DATE", "HTTP_X_AMZ_CONTENT_SHA256", "HTTP_X_AMZ_SECURITY_TOKEN",
    "CONTENT_TYPE", "CONTENT_LENGTH", "HTTP_CONTENT_ENCODING", "HTTP_X_AMZ_CHECKSUM_CRC32",
    "HTTP_X_AMZ_SDK_CHECKSUM_ALGORITHM", "HTTP_USER_AGENT", "HTTP_ACCEPT_ENCODING", "HTTP_ACCEPT",
    "HTTP_CONNECTION", "HTTP_AMZ_SDK_INVOCATION_ID", "HTTP_AMZ_SDK_REQUEST"})
PLAIN_PATH = re.compile(r"/[a-z0-9][a-z0-9.-]*/[A-Za-z0-9._~-]+(?:/[A-Za-z0-9._~-]+)*")
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
PLAIN_HOST = re.compile(r"[A-Za-z0-9.-]+(?::[0-9]+)?")
SET_BY_FLASK = ("content-type", "content-length", "access-control-allow-origin")
ADDED_BY_FLASK = (("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "0"),  # Flask's `Response`
                  ("Access-Control-Allow-Origin", "*"))  # flask-cors, for a request without Origin


def install() -> None:
    """A key's body is held where it lies, not copied: `FakeKey.value`'s setter, given bytes that
    fit its buffer in memory, makes the buffer's in-memory file a `BytesIO` over those bytes
    (CPython's `BytesIO` shares the bytes it starts from until written to, and its whole-buffer
    `read` and `getvalue` hand them back), positioned at its end as moto's write leaves it; moto
    copied every body into its buffer (a 512 KiB frame: a copy and ~128 page faults of the
    emulator's). `FakeKey.etag` hashes that body in place instead of reading a copy of it (moto
    reads its buffer back, 16 MiB at a time, to hash it); the same MD5, the buffer left at its end
    as moto's read leaves it. Anything else (text, a body larger than the buffer, a buffer rolled
    over to a temporary file) goes through moto's own setter and property."""
    from moto.s3 import models

    original = models.FakeKey.etag
    if getattr(original.fget, "obelisk_patched", False):
        return
    original_value = models.FakeKey.value

    def etag(self) -> str:
        buffer = self._value_buffer
        if self._etag is None and not buffer._rolled:
            self._etag = models.md5_hash(buffer._file.getvalue()).hexdigest()
            buffer.seek(0, io.SEEK_END)
        return original.fget(self)

    def set_value(self, new_value) -> None:
        buffer = self._value_buffer
        if type(new_value) is not bytes or buffer._rolled or len(new_value) > buffer._max_size:
            original_value.fset(self, new_value)
            return
        buffer._file = io.BytesIO(new_value)
        buffer._file.seek(0, io.SEEK_END)
        self.contentsize = len(new_value)

    etag.obelisk_patched = True
    models.FakeKey.etag = property(etag)
    models.FakeKey.value = original_value.setter(set_value)


def answer(environ: dict, start_response) -> list[bytes] | None:
    """moto's answer to a plain PutObject (module docstring), or None to let moto serve it."""
    if not _plain_put(environ):
        return None
    body = s3_bodies.body_of(environ)
    request = BackendRequest(environ, populate_request=False)  # not kept in the environ: no cycle holding the body
    handler = _set_up(S3Response(), request, body)
    try:
        bucket = handler.backend.get_bucket(handler.bucket_name)
    except MissingBucket:
        bucket = None
    if bucket is None or bucket.policy is not None or bucket.logging or bucket.object_lock_enabled:
        environ["wsgi.input"] = io.BytesIO(body)
        return None  # moto's own path answers these (and registers the request's account again, as it did)
    recorder._record_request(request)
    handler.backend.log_incoming_request(request, handler.bucket_name)
    try:
        handler._set_action("KEY", "PUT", {})
        handler._authenticate_and_authorize_s3_action(bucket_name=handler.bucket_name, key_name=handler.parse_key_name())
        response = handler.put_object()
    except S3ClientError as s3error:
        response = handler.serialized(ActionResult(s3error))
    status, headers, content = handler._send_response(response)
    if status == 200 and content == b"" and not any(name.lower() in SET_BY_FLASK for name in headers):
        start_response("200 OK", [*headers.items(), *ADDED_BY_FLASK])  # what `Response` below would send
        return [b""]
    answered = Response(response=content, status=status, headers=headers)
    answered.headers.add("Access-Control-Allow-Origin", "*")  # flask-cors, for a request without Origin
    return answered(environ, start_response)


def _set_up(handler: S3Response, request, body: bytes) -> S3Response:
    """`handler` as `S3Response.setup_class(request)` leaves it for a request `_plain_put` lets
    through (a plain host, no query, no form, no decompression, no streaming payload), with what
    `put_object` and the answer read: the body as read, the querystring moto makes of the headers,
    the URL as it arrived, region, account (and its visit registered, as moto does), bucket."""
    from moto.iam.models import mark_account_as_visited
    from moto.s3.responses import DEFAULT_REGION_NAME, extract_region_from_aws_authorization, parse_region_from_url
    from moto.utilities.utils import get_partition

    raw_path = request.environ["RAW_URI"]
    full_url = f"http://{request.environ['HTTP_HOST']}{raw_path}"
    handler.is_werkzeug_request = True
    handler.normalized_request = request
    handler.parsed_url = urlparse(full_url)
    handler.body = handler.raw_body = body
    handler.uri, handler.path, handler.raw_path, handler.method = full_url, handler.parsed_url.path, raw_path, "PUT"
    handler.headers = request.headers
    handler.querystring = handler.data = _decode_dict(OrderedDict(request.headers))
    handler.region = handler.get_region_from_url(request, full_url)
    handler.partition = get_partition(handler.region)
    handler.uri_match = {}
    handler.response_headers = {"server": "amazon.com"}
    handler.access_key = handler.get_access_key()
    handler.current_account = handler.get_current_account()
    mark_account_as_visited(account_id=handler.current_account, access_key=handler.access_key,
                            service=handler.service_name, region=handler.region)
    handler.region = parse_region_from_url(full_url, use_default_region=False) or (
        extract_region_from_aws_authorization(request.headers.get("Authorization", "")) or DEFAULT_REGION_NAME)
    handler.bucket_name = handler.parse_bucket_name_from_url(request, full_url)
    handler.request = request
    return handler


def _plain_put(environ: dict) -> bool:
    """Whether moto would route this request to `S3Response.put_object` with nothing but what
    `answer` reproduces (module docstring)."""
    if environ.get("REQUEST_METHOD") != "PUT" or environ.get("QUERY_STRING") or environ.get("wsgi.input_terminated"):
        return False
    if not (environ.get("CONTENT_LENGTH") and environ.get("HTTP_HOST") and environ.get("HTTP_AUTHORIZATION")) or any(
            key not in HEADERS for key in environ if key.startswith("HTTP_")):
        return False
    if environ.get("CONTENT_TYPE", "").lower().startswith(FORM_TYPES):
        return False
    if "aws-chunked" in environ.get("HTTP_CONTENT_ENCODING", "") or \
            environ.get("HTTP_X_AMZ_CONTENT_SHA256", "").startswith("STREAMING-"):
        return False
    algorithm = environ.get("HTTP_X_AMZ_SDK_CHECKSUM_ALGORITHM")
    if algorithm is not None and (algorithm != "CRC32" or not environ.get("HTTP_X_AMZ_CHECKSUM_CRC32")):
        return False
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
    if not PLAIN_PATH.fullmatch(raw) or raw != environ.get("PATH_INFO") or any(
            part in (".", "..") for part in raw.split("/")):
        return False
    host = environ["HTTP_HOST"]
    if not PLAIN_HOST.fullmatch(host) or ".s3-accesspoint." in host or S3Response.subdomain_based_buckets(_HostOnly(host)):
        return False
    return (not recorder._user_enabled and not settings.DISABLE_GLOBAL_CORS
            and ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT)


class _HostOnly:
    """What `S3Response.subdomain_based_buckets` reads of a request that has a Host header."""

    def __init__(self, host: str):
        self.headers = {"host": host}
        self.url = f"http://{host}/"
