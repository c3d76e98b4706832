"""Launches: embeddable reporting sites (docs/reporting.md), who may launch a report, and where a
signed report is stored."""
from __future__ import annotations

from chalicelib.auth.facts import facts
from chalicelib.auth.policy.albums import ADD_SERIES, AlbumAccess, album_access, require_album_permission
from chalicelib.auth.policy.reads import Source, authorize_study_read, readable_series
from chalicelib.auth.policy.tokens import CHANGE, READ, require_action
from chalicelib.auth.principals import (
    USER,
    Principal,
)
from chalicelib.errors import AlbumNotFound, Forbidden, NotFound, StudyNotFound

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


REPORT_REFUSAL = "report not found"


def require_report_reader(principal: Principal, site) -> None:
    """Reading a report (its JSON, HL7 and FHIR outputs): one of its site's admins (the site
    named by the report). Anyone else is answered as for a report that does not exist (404, one
    message), so report ids cannot be probed and the site is not named."""
    try:
        require_site_admin(principal, site)
    except Forbidden as error:
        raise NotFound(REPORT_REFUSAL, message="Report Not Found") from error


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


# ---- launching a report provider (report_providers/launch.py) and the viewer (oauth/viewer_launch.py) --


def require_provider_launcher(principal: Principal) -> None:
    """A report provider is launched with a user token or a user capability token allowing changes (403)."""
    if not principal.has_user_access:
        raise Forbidden("only a user token or a user capability token can launch a report provider")
    require_action(principal, CHANGE)


def provider_album_access(principal: Principal, album_id: str) -> AlbumAccess:
    """The launcher's standing in the provider's album: not reaching it is 403 (the provider was found)."""
    try:
        return album_access(principal, album_id)
    except AlbumNotFound as error:
        raise Forbidden("you are not a member of the report provider's album") from error


def require_launched_study(album_id: str, study_uid: str) -> None:
    """A provider is launched for studies of its album only (404)."""
    if not facts().shares_in_album(album_id, study_uid):
        raise StudyNotFound("Study does not exist in the report provider's album")


def provider_launch_scope(access: AlbumAccess) -> str:
    """A provider token writes (stores its report) when its launcher holds ADD_SERIES in the album."""
    return "read write" if access.allows(ADD_SERIES) else "read"


def require_viewer_launcher(principal: Principal) -> None:
    """The viewer (OHIF) is launched with a user-level token only (403)."""
    if not principal.has_user_access:
        raise Forbidden("only a user token can launch the viewer")


def viewer_launch_scope(principal: Principal, study_uid: str, source: Source) -> str:
    """The scope of a viewer launched on a study from a source: reading it there (403 without
    `read`, 404 for a study not read there); `write` when the token writes and the source takes
    series from the launcher (its inbox, or an album granting it ADD_SERIES)."""
    require_action(principal, READ)
    authorize_study_read(principal, study_uid, source)
    writable = principal.can("write") and (
        source.inbox or (source.album_id and album_access(principal, source.album_id).allows(ADD_SERIES)))
    return "read write" if writable else "read"
