"""A report session as a DICOMweb credential: read access to the report's study only, through
the launching site admin's access (what KHEOPS viewer tokens do for a shared study)."""
from __future__ import annotations

from chalicelib.auth.principals import VIEWER, Principal
from chalicelib.errors import Unauthenticated
from chalicelib.reporting import secrets
from chalicelib.services import users
from chalicelib.store.models import Report


def looks_like_report_session(token: str) -> bool:
    return token.startswith(secrets.SESSION_PREFIX)


def verify(token: str) -> Principal:
    try:
        report = Report.get(*Report.key(secrets.peek(secrets.SESSION, token)))
    except Report.DoesNotExist as error:
        raise Unauthenticated("report gone") from error
    launcher = users.get_user(report.launcher_sub)
    if launcher is None:
        raise Unauthenticated("unknown user")
    return Principal(kind=VIEWER, user=launcher, scope=frozenset({"read"}),
                     study_uids=frozenset([report.tags["StudyInstanceUID"]]), token=token)
