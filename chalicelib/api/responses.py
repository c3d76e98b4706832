"""Response shapes: the error body of docs/kheops-compatibility.md §1, JSON and DICOM JSON answers,
paging headers. The one place that maps domain exceptions to HTTP."""
from __future__ import annotations

import json
import logging

from chalice import Response

from chalicelib.auth.authenticate import MissingCredentials
from chalicelib.errors import ObeliskError, Unauthenticated

log = logging.getLogger("obelisk")

DICOM_JSON = "application/dicom+json"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# Keys under which an answer hands out a secret (capability secrets, tokens, report sessions):
# such an answer is never stored by a cache (RFC 6749 5.1 for the token endpoint).
SECRET_KEYS = frozenset({"secret", "access_token", "id_token", "refresh_token", "session"})


def carries_secret(body) -> bool:
    if isinstance(body, dict):
        return any(k in SECRET_KEYS and v for k, v in body.items()) or any(carries_secret(v) for v in body.values())
    if isinstance(body, list):
        return any(carries_secret(item) for item in body)
    return False


def finish(result, no_store: bool = False) -> Response:
    """Every API answer passes here: `X-Content-Type-Options: nosniff` on all of them, and
    `no-store` on every answer of a route that hands out or checks secrets (`no_store`: the token
    and introspection endpoints, their refusals included: RFC 6749 5.1)."""
    response = result if isinstance(result, Response) else Response(body=result, status_code=200)
    response.headers = {**(response.headers or {}), "X-Content-Type-Options": "nosniff",
                        **(NO_STORE if no_store else {})}
    return response


def error(exc: ObeliskError) -> Response:
    if isinstance(exc, MissingCredentials):
        return Response(body="", status_code=401, headers={"WWW-Authenticate": ["Basic", "Bearer"]})
    if isinstance(exc, Unauthenticated):
        return Response(body="", status_code=401)  # no detail: nothing leaks about the token
    body = {"message": exc.message, "detail": exc.detail or exc.message}
    return Response(body=body, status_code=exc.status, headers={"Content-Type": "application/json"})


def internal_error() -> Response:
    log.exception("unhandled error")
    return Response(
        body={"message": "Internal Server Error", "detail": "an unexpected error occurred"},
        status_code=500,
        headers={"Content-Type": "application/json"},
    )


def json_body(body, status: int = 200, headers: dict | None = None) -> Response:
    """A JSON answer; one that carries a secret is marked `no-store`."""
    secret = NO_STORE if carries_secret(body) else {}
    return Response(body=json.dumps(body), status_code=status,
                    headers={"Content-Type": "application/json", **(headers or {}), **secret})


def dicom_json(items: list[dict], status: int = 200, headers: dict | None = None) -> Response:
    return Response(body=json.dumps(items), status_code=status,
                    headers={"Content-Type": DICOM_JSON, **(headers or {})})


def search_result(result, status_when_empty: int = 204) -> Response:
    """A QIDO answer: 204 when empty, `X-Total-Count`, and the `Warning` header when more remain."""
    headers = {"X-Total-Count": str(result.total), "Cache-Control": "private, no-cache"}
    if result.remaining:
        headers["Warning"] = (
            f"299 obelisk: There are {result.remaining} additional results that can be requested"
        )
    if not result.items:
        return Response(body="", status_code=status_when_empty, headers=headers)
    return dicom_json(result.items, headers=headers)


def see_other(location: str) -> Response:
    return Response(body="", status_code=303, headers={"Location": location, "Cache-Control": "no-store"})


def created() -> Response:
    return Response(body="", status_code=201)


def no_content(headers: dict | None = None) -> Response:
    return Response(body="", status_code=204, headers=headers or {})


def is_binary_type(content_type: str, binary_types: list[str]) -> bool:
    """As API Gateway and Chalice match a Content-Type against the API's binary media types."""
    kind = content_type.split(";", 1)[0].strip().lower()
    return any(kind == b or b == "*/*" or (b.endswith("/*") and kind.startswith(b[:-1])) for b in binary_types)


def text_bodies_as_text(binary_types: list[str]):
    """HTTP middleware: Lambda's runtime sends the function's answer as JSON, so a bytes body of a
    type API Gateway does not treat as binary (DICOM JSON, XML) cannot leave the function in AWS
    (Runtime.MarshalError, a 502), though `chalice local` sends it. Such bodies are UTF-8 text:
    decoded here, once for every route (found by the deployment rehearsal, tests/infra)."""

    def middleware(event, get_response):
        response = get_response(event)
        if isinstance(response.body, bytes) and not is_binary_type(
                response.headers.get("Content-Type", response.headers.get("content-type", "")), binary_types):
            try:
                response.body = response.body.decode("utf-8")
            except UnicodeDecodeError:
                log.error("a %s body that is not UTF-8 cannot leave the function",
                          response.headers.get("Content-Type"))
        return response

    return middleware
