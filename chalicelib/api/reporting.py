"""Embeddable reporting: site administration, `POST /report/launch/clinical`, the reporting page
and its report session (`x-report-session`), and a signed report's HL7/FHIR outputs."""
from __future__ import annotations

import json
import secrets as _random
from pathlib import Path

from chalice import Blueprint, Response

from chalicelib.api import responses
from chalicelib.api.routing import JSON, query_value, route
from chalicelib.auth.authenticate import principal_for_token
from chalicelib.config import settings
from chalicelib.errors import BadRequest, MissingAuth, ObeliskError
from chalicelib.reporting import reports, returns, sites
from chalicelib.serializers import reporting as reporting_json

bp = Blueprint(__name__)
PAGE = Path(__file__).resolve().parent.parent / "reporting" / "site" / "index.html"
SESSION_HEADER = "x-report-session"


def _body(request) -> dict:
    try:
        body = json.loads(request.raw_body or b"{}")
    except ValueError as error:
        raise BadRequest("the body is not JSON") from error
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _embedding_headers(origins: list[str]) -> dict[str, str]:
    ancestors = " ".join(origins) or "'none'"
    return {"Content-Security-Policy": f"frame-ancestors {ancestors}", "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store"}


def _report_json(report) -> dict:
    return reporting_json.report(report, returns.delivery_of(report.report_id, int(report.version)))


def _site_headers(report) -> dict[str, str]:
    return _embedding_headers(list(sites.get_site(report.site_id).origins))


@route(bp, "/report/sites/{site_id}", methods=["PUT"], linkable=False, content_types=JSON)
def put_report_site(caller, site_id):
    site = sites.administer_site(caller, site_id, _body(bp.current_request))
    return responses.json_body(reporting_json.site(site, sites.link_seconds(site)))


@route(bp, "/report/sites/{site_id}", methods=["GET"], linkable=False)
def get_report_site(caller, site_id):
    site = sites.read_site(caller, site_id)
    return responses.json_body(reporting_json.site(site, sites.link_seconds(site)))


@route(bp, "/report/launch/clinical", methods=["POST"], linkable=False, content_types=JSON)
def launch_clinical_report():
    request = bp.current_request
    body = _body(request)
    token = (request.headers.get("x-access-token") or (body.get("tags") or {}).get("Auth") or "").strip()
    if not token:
        raise MissingAuth("the x-access-token header (a site admin's access token) is missing")
    report, code = reports.launch(principal_for_token(token), body)
    link = f"{settings().api_url}/report/page?code={code}"
    return responses.json_body(reporting_json.launched(report, link), headers={"Cache-Control": "no-store"})


@route(bp, "/report/page", methods=["GET"], linkable=False)
def report_page():
    """The page a report link opens; refused (with `frame-ancestors 'none'`) once the code is used."""
    try:
        report = reports.report_for_code(query_value(bp.current_request, "code") or "")
    except ObeliskError:
        return Response(body="<!doctype html><title>Link expired</title><p>This report link was already "
                        "used or has expired. Ask your worklist for a new one.</p>", status_code=410,
                        headers={"Content-Type": "text/html; charset=utf-8", **_embedding_headers([])})
    nonce = _random.token_urlsafe(16)
    headers = _site_headers(report)
    headers["Content-Security-Policy"] += (f"; default-src 'self'; script-src 'nonce-{nonce}'; "
                                           "style-src 'unsafe-inline'; img-src 'self' data:")
    return Response(body=PAGE.read_text().replace("{{nonce}}", nonce), status_code=200,
                    headers={"Content-Type": "text/html; charset=utf-8", **headers})


@route(bp, "/report/session", methods=["POST"], linkable=False, content_types=JSON)
def open_report_session():
    session, report = reports.open_session(str(_body(bp.current_request).get("code") or ""))
    return responses.json_body({"session": session, "report": _report_json(report),
                                "ohifUrl": settings().ohif_url}, headers=_site_headers(report))


def _session_report():
    return reports.report_for_session(bp.current_request.headers.get(SESSION_HEADER, ""))


@route(bp, "/report/current", methods=["GET"], linkable=False)
def get_current_report():
    report = _session_report()
    return responses.json_body(_report_json(report), headers=_site_headers(report))


@route(bp, "/report/current/draft", methods=["PUT"], linkable=False, content_types=JSON)
def save_report_draft():
    report = reports.save_draft(_session_report(), _body(bp.current_request))
    return responses.json_body(_report_json(report), headers=_site_headers(report))


@route(bp, "/report/current/sign", methods=["POST"], linkable=False, content_types=JSON)
def sign_report():
    report = reports.sign(_session_report(), _body(bp.current_request))
    return responses.json_body(_report_json(report), headers=_site_headers(report))


@route(bp, "/reports/{report_id}", methods=["GET"], linkable=False)
def get_report(caller, report_id):
    """The report as its page sees it, with its return delivery, for one of its site's admins."""
    report = reports.report_for_site_admin(caller, report_id)
    return responses.json_body(_report_json(report), headers={"Cache-Control": "no-store"})


@route(bp, "/reports/{report_id}/hl7", methods=["GET"], linkable=False)
def get_report_hl7(caller, report_id):
    report = reports.report_for_site_admin(caller, report_id)
    if not report.outputs:
        raise BadRequest("the report is not signed yet")
    return Response(body=report.outputs["hl7"], status_code=200,
                    headers={"Content-Type": "x-application/hl7-v2+er7", "Cache-Control": "no-store"})


@route(bp, "/reports/{report_id}/fhir", methods=["GET"], linkable=False)
def get_report_fhir(caller, report_id):
    report = reports.report_for_site_admin(caller, report_id)
    if not report.outputs:
        raise BadRequest("the report is not signed yet")
    return responses.json_body(report.outputs["fhir"], headers={"Content-Type": "application/fhir+json",
                                                                "Cache-Control": "no-store"})
