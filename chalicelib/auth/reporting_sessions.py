"""A report session as a DICOMweb credential: read access to the report's study only, through
the launching site admin's access (what KHEOPS viewer tokens do for a shared study). The
session secrets themselves are `auth/reporting_secrets.py`'s; the reports are `reporting/`'s."""
from __future__ import annotations

from chalicelib.auth import reporting_secrets
from chalicelib.auth.principals import VIEWER, Principal
from chalicelib.errors import Unauthenticated
from chalicelib.store import users
from chalicelib.store.items import get_or_none
from chalicelib.store.models import Report


def looks_like_report_session(token: str) -> bool:
    return token.startswith(reporting_secrets.SESSION_PREFIX)


def verify(token: str) -> Principal:
    report = get_or_none(Report, Report.key(reporting_secrets.peek(reporting_secrets.SESSION, token)))
    if report is None:
        raise Unauthenticated("report gone")
    launcher = users.get_or_none(report.launcher_sub)
    if launcher is None:
        raise Unauthenticated("unknown user")
    return Principal(kind=VIEWER, user=launcher, scope=frozenset({"read"}),
                     study_uids=frozenset([report.tags["StudyInstanceUID"]]), token=token)
