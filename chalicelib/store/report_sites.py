"""Reporting sites' configurations (`SITE#{id}`), read by intent; the policy decides from them
(`auth/policy.launchable_site`), `reporting/sites.py` administers them."""
from __future__ import annotations

from chalicelib.errors import NotFound
from chalicelib.store.items import get_or_none as _get_or_none
from chalicelib.store.models import ReportSite


def get_or_none(site_id: str) -> ReportSite | None:
    return _get_or_none(ReportSite, ReportSite.key(site_id))


def get_site(site_id: str) -> ReportSite:
    """The site, or NotFound (the caller chooses what a refusal says)."""
    site = get_or_none(site_id)
    if site is None:
        raise NotFound("no such site", message="Site Not Found")
    return site
