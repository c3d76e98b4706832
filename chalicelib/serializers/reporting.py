"""Embeddable reporting's JSON (docs/reporting.md): a site, a launched report, and a report as its
page and its site's admins see it, with what became of its return to the site."""
from __future__ import annotations

from chalicelib.events import deliveries
from chalicelib.store.models import Report, ReportDelivery, ReportSite

NO_ENDPOINT = "the site has no return endpoint"
STUDY_TAGS = ("PatientName", "PatientMRN", "PatientBirthDate", "PatientAge", "PatientSex", "Modality",
              "BodyPartExamined", "StudyDescription", "StudyDate", "StudyTime", "StudyInstanceUID", "ReasonForExam")


def site(site: ReportSite, link_seconds: int) -> dict:
    return {"siteId": site.site_id, "admins": list(site.admins), "origins": list(site.origins),
            "returnFormat": site.return_format, "returnEndpoint": site.return_endpoint,
            "linkSeconds": link_seconds}


def _owner(report: Report) -> dict:
    return {"name": report.owner_name, "email": report.owner_email}


def launched(report: Report, link: str) -> dict:
    """`POST /report/launch/clinical`: the report and the link that opens it."""
    return {"status": report.status, "reportId": report.report_id, "owner": _owner(report), "reportLink": link}


def delivery(version: int, return_format: str | None, returned: ReportDelivery | None) -> dict | None:
    """What became of signed version n's return: `status` pending | pass | fail with the attempts,
    or `none` when the site had no endpoint (no delivery recorded); None before the first signing."""
    if version < 1:
        return None
    if returned is None:
        return {"version": version, "format": return_format, "status": "none", "detail": NO_ENDPOINT,
                "attempts": []}
    return {"version": version, "format": returned.return_format, "status": returned.state,
            "attempts": deliveries.attempts_json(returned)}


def report(report: Report, returned: ReportDelivery | None) -> dict:
    """A report; `returned`: the delivery of its signed version's return, if one was recorded."""
    tags = report.tags
    outputs = report.outputs or {}
    return {
        "reportId": report.report_id, "siteId": report.site_id, "accession": report.accession,
        "status": report.status, "version": report.version, "owner": _owner(report),
        "findings": report.findings, "impression": report.impression, "updatedAt": report.updated_at,
        "study": {k: tags.get(k, "") for k in STUDY_TAGS},
        "sr": outputs.get("sr"),
        "delivery": delivery(int(report.version), outputs.get("return_format"), returned),
    }
