"""One log line per API request: method, route, status, duration and the kind of caller
(user, user_capability, album_capability, viewer, report_provider, or anonymous), never who.
In Lambda the runtime writes it as JSON with the request id (LogFormat JSON, infra/deploy.py);
the fields passed as `extra` become keys of that JSON object."""
from __future__ import annotations

import logging
import time

log = logging.getLogger("obelisk.access")


def principal_kind(request) -> str:
    """The kind of the caller this request resolved to (chalicelib.api.routing.principal keeps it
    on the request); `anonymous` when no route asked who the caller is."""
    principal = getattr(request, "_obelisk_principal", None)
    return getattr(principal, "kind", None) or "anonymous"


def middleware(event, get_response):
    started = time.perf_counter()
    response = get_response(event)
    route = (event.context or {}).get("resourcePath", event.path)
    fields = {"method": event.method, "route": route, "status": response.status_code,
              "principal_kind": principal_kind(event),
              "duration_ms": round((time.perf_counter() - started) * 1000, 1)}
    log.info("%(method)s %(route)s %(status)s %(principal_kind)s", fields, extra=fields)
    return response
