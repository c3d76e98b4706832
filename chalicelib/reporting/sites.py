"""Reporting sites: admins, allowed embedding origins, return format and endpoint."""
from __future__ import annotations

from urllib.parse import urlsplit

from chalicelib.auth import policy
from chalicelib.auth.principals import Principal
from chalicelib.errors import BadRequest, NotFound
from chalicelib.store import report_sites
from chalicelib.store.models import ReportSite

RETURN_FORMATS = ("HL7", "FHIR")


def get_site(site_id: str) -> ReportSite:
    site = report_sites.get_or_none(site_id)
    if site is None:
        raise NotFound(policy.SITE_REFUSAL, message="Site Not Found")
    return site


def _origin(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise BadRequest(f"not an origin: {value!r} (expected scheme://host[:port])")
    return f"{parts.scheme}://{parts.netloc}"


def put_site(site_id: str, admins: list[str], origins: list[str], return_format: str,
             return_endpoint: str, link_seconds: int | None = None) -> ReportSite:
    """Creates or replaces a site's configuration (idempotent)."""
    if not site_id or not all(c.isalnum() or c in "-_." for c in site_id):
        raise BadRequest("SiteID must be letters, digits, '-', '_' or '.'")
    if return_format not in RETURN_FORMATS:
        raise BadRequest(f"return format must be one of {', '.join(RETURN_FORMATS)}")
    if return_endpoint and urlsplit(return_endpoint).scheme not in ("http", "https"):
        raise BadRequest("return endpoint must be an http(s) URL")
    if link_seconds is not None and not 1 <= link_seconds <= 86400:
        raise BadRequest("linkSeconds must be between 1 and 86400")
    site = ReportSite(*ReportSite.key(site_id), site_id=site_id,
                      admins=sorted({a.strip() for a in admins if a.strip()}),
                      origins=[_origin(o) for o in origins], return_format=return_format,
                      return_endpoint=return_endpoint, link_seconds=link_seconds)
    site.save()
    return site


def administer_site(principal: Principal, site_id: str, body: dict) -> ReportSite:
    policy.require_obelisk_admin(principal)
    return put_site(site_id, list(body.get("admins") or []), list(body.get("origins") or []),
                    str(body.get("returnFormat") or "HL7"), str(body.get("returnEndpoint") or ""),
                    _seconds(body.get("linkSeconds")))


def _seconds(value) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRequest("linkSeconds must be an integer")
    return value


def link_seconds(site: ReportSite) -> int:
    """How long a report link of this site stays usable (`OBELISK_REPORT_LINK_SECONDS` by default)."""
    from chalicelib.config import settings

    return int(site.link_seconds or settings().report_link_seconds)


def read_site(principal: Principal, site_id: str) -> ReportSite:
    policy.require_obelisk_admin(principal)
    return get_site(site_id)
