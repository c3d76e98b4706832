"""The embeddable reporting's credentials (docs/reporting.md): one-time launch codes and report
sessions, random, short-lived, stored only as SHA-256 hashes. A code is consumed with a
conditional delete, so it opens a session at most once."""
from __future__ import annotations

import hashlib
import secrets as _random
import time

from pynamodb.exceptions import DeleteError

from chalicelib.errors import Unauthenticated
from chalicelib.store.items import get_or_none
from chalicelib.store.models import ReportSecret

CODE = "CODE"
SESSION = "SESSION"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


SESSION_PREFIX = "rs_"  # report sessions are also DICOMweb read tokens: their shape names them


def issue(kind: str, report_id: str, lifetime_seconds: int) -> str:
    secret = (SESSION_PREFIX if kind == SESSION else "") + _random.token_urlsafe(32)
    ReportSecret(*ReportSecret.key(kind, _digest(secret)), report_id=report_id,
                 expires_at=int(time.time()) + lifetime_seconds).save(
        condition=ReportSecret.pk.does_not_exist())
    return secret


def peek(kind: str, secret: str) -> str:
    """The report a live secret opens, without consuming it; 401 when unknown or expired."""
    item = get_or_none(ReportSecret, ReportSecret.key(kind, _digest(secret or "")), consistent_read=True)
    if item is None:
        raise Unauthenticated("unknown or used")
    if item.expires_at <= time.time():
        raise Unauthenticated("expired")
    return item.report_id


def consume(kind: str, secret: str) -> str:
    """Deletes the secret if it is still live and returns its report; only one caller wins."""
    report_id = peek(kind, secret)
    item = ReportSecret(*ReportSecret.key(kind, _digest(secret)))
    try:
        item.delete(condition=ReportSecret.pk.exists() & (ReportSecret.expires_at > int(time.time())))
    except DeleteError as error:
        raise Unauthenticated("used or expired") from error
    return report_id
