"""The OpenAPI 3.1 description of the API, built from the live route table (so it cannot drift),
served at `/api/openapi.yaml` (JSON, which is valid YAML) and committed as `docs/openapi.yaml`."""
from __future__ import annotations

import json
import re

from chalice import Blueprint, Response

from chalicelib.api.routing import LINK_PREFIX, route
from chalicelib.config import settings

bp = Blueprint(__name__)
UID_PATTERN = r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+$"
UID_PARAMETERS = {"study", "series", "instance"}
RETRIEVALS = re.compile(r"^retrieve_|_rendered$|_thumbnail$|^study_rendered|^study_thumbnail|^wado_uri$|_metadata$")
REDIRECTS = {"authorize": "back to the client's redirect URI, with a code or an error",
             "launch_viewer": "to the OHIF viewer, with a launch ticket cookie"}
ERROR = {"type": "object", "description": "`{message, detail}`, or `{error, error_description}` from /token"}


def _operation(view_name: str, method: str, path: str, content_types: list[str]) -> dict:
    words = view_name.replace("_", " ")
    parameters = [
        {"name": name, "in": "path", "required": True,
         "schema": {"type": "string", **({"pattern": UID_PATTERN} if name in UID_PARAMETERS else {})}}
        for name in re.findall(r"{(\w+)}", path)
    ]
    responses = {
        "2XX": {"description": "success"},
        "401": {"description": "no credentials, or credentials that do not verify (empty body)"},
        "4XX": {"description": "refused; what the caller may not see answers 404",
                "content": {"application/json": {"schema": ERROR}}},
    }
    if method == "GET" and RETRIEVALS.search(view_name):
        responses["303"] = {"description": "the bytes, at a short-lived presigned S3 URL"}
    if view_name in REDIRECTS:
        responses["3XX"] = {"description": REDIRECTS[view_name]}
    operation = {"operationId": view_name, "summary": words[0].upper() + words[1:], "tags": [path.split("/")[1]],
                 "parameters": parameters, "responses": responses}
    body_types = [t for t in content_types if t != "application/json"]
    if method in ("POST", "PUT", "PATCH") and body_types:
        operation["requestBody"] = {"content": {
            t: {"schema": {"type": "object", "additionalProperties": {"type": "string"}}}
            if t == "application/x-www-form-urlencoded" else {"schema": {"type": "string", "format": "binary"}}
            for t in body_types}}
    return operation


def build_document(app) -> dict:
    paths: dict[str, dict] = {}
    for path, methods in sorted(app.routes.items()):
        if path.startswith(LINK_PREFIX):
            continue
        for method, entry in sorted(methods.items()):
            if method == "OPTIONS":
                continue
            declared = getattr(entry.view_function, "content_types", entry.content_types)
            operation = _operation(entry.view_name, method, path, declared)
            if LINK_PREFIX + path in app.routes:
                operation["description"] = "Also served under `/link/{token}` with the token in the path."
            paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Obelisk API", "version": "1.0.0",
                 "description": "KHEOPS-compatible DICOM sharing and authorization (see docs/)."},
        "servers": [{"url": settings().api_url}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                           "basic": {"type": "http", "scheme": "basic"}}},
        "security": [{"bearer": []}, {"basic": []}, {}],
        "paths": paths,
    }


@route(bp, "/openapi.yaml", methods=["GET"], linkable=False)
def openapi_document():
    """The app this blueprint is registered to, described (no import of `app`: no cycle)."""
    return Response(body=json.dumps(build_document(bp.current_app), indent=1), status_code=200,
                    headers={"Content-Type": "application/yaml"})
