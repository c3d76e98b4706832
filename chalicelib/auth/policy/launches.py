"""Launches: embeddable reporting sites (docs/reporting.md), who may launch a report, and where a
signed report is stored."""
from __future__ import annotations

from chalicelib.auth.facts import facts
from chalicelib.auth.policy.albums import ADD_SERIES, require_album_permission
from chalicelib.auth.policy.reads import readable_series
from chalicelib.auth.principals import (
    USER,
    Principal,
)
from chalicelib.errors import AlbumNotFound, Forbidden, NotFound

# ---- embeddable reporting (docs/reporting.md) -----------------------------------------------


def _identities(principal: Principal) -> set[str]:
    return {principal.sub.lower(), (principal.user.email or "").lower()} - {""}


def require_obelisk_admin(principal: Principal) -> None:
    """Site administration: only users named in `OBELISK_ADMINS` (subs or e-mails)."""
    from chalicelib.config import settings

    if principal.kind != USER or not _identities(principal) & set(settings().obelisk_admins):
        raise Forbidden("only Obelisk administrators may manage reporting sites")


SITE_REFUSAL = "Site does not exist or you are not one of its admins"


def require_site_admin(principal: Principal, site) -> None:
    """Reading a site's reports: the token must belong to one of the site's admins (403). A launch
    goes through `launchable_site`, which answers as for an unknown site."""
    admins = {a.lower() for a in site.admins}
    if principal.kind != USER or not _identities(principal) & admins:
        raise Forbidden(f"the access token is not a site admin's token for site {site.site_id}")


def launchable_site(principal: Principal, site_id: str):
    """The site a report may be launched for: unknown sites and sites the token does not
    administer answer the same 404 (one status, one message), so site names cannot be listed."""
    site = facts().site(site_id)
    try:
        if site is None:
            raise NotFound(SITE_REFUSAL)
        require_site_admin(principal, site)
    except (NotFound, Forbidden) as error:
        raise NotFound(SITE_REFUSAL, message="Site Not Found") from error
    return site


def report_store_target(principal: Principal, study_uid: str) -> str | None:
    """The album a signed report's SR goes to: an album of the launcher holding the study where
    they may add series, else their inbox (None)."""
    try:
        visible = readable_series(principal, study_uid)
    except Forbidden:
        return None
    albums = {s.album_id for group in visible.values() for s in group}
    albums.discard(principal.user.inbox_id)
    for album_id in sorted(albums):
        try:
            require_album_permission(principal, album_id, ADD_SERIES)
            return album_id
        except (AlbumNotFound, Forbidden):
            continue
    return None
