"""Reports: launch by a site admin, a session per opened link, drafts, signing and its outputs."""
from __future__ import annotations

from typing import TYPE_CHECKING

from pynamodb.exceptions import TransactWriteError

from chalicelib import clock
from chalicelib.auth import policy, reporting_secrets
from chalicelib.auth.principals import USER, Principal
from chalicelib.config import settings
from chalicelib.errors import BadRequest, Conflict, NotFound, UpstreamFailure
from chalicelib.reporting import fhir_report, hl7_oru, returns, sites, sr, status_events
from chalicelib.services import search, users
from chalicelib.services.ingest import Ingest
from chalicelib.store.items import get_or_none
from chalicelib.store.models import AccessionClaim, Report, ReportDelivery, ReportVersion, transact

if TYPE_CHECKING:
    from pydicom import Dataset

REQUIRED_TAGS = ("SiteID", "Accession", "UserName", "UserEmail")
MAX_TEXT = 20000


def _tags(body: dict) -> dict[str, str]:
    tags = body.get("tags") if isinstance(body, dict) else None
    if not isinstance(tags, dict):
        raise BadRequest("the body must be a JSON object with a `tags` object")
    missing = [name for name in REQUIRED_TAGS if not str(tags.get(name) or "").strip()]
    if missing:
        raise BadRequest(f"missing required tags: {', '.join(missing)}", message="Missing Tags")
    if body.get("result", "link") != "link":
        raise BadRequest("only `\"result\": \"link\"` is supported")
    clean = {str(k): str(v if v is not None else "").strip() for k, v in tags.items() if k != "Auth"}
    if clean.get("StudyInstanceUID") and not all(p.isdigit() for p in clean["StudyInstanceUID"].split(".")):
        raise BadRequest("StudyInstanceUID is not a valid UID")
    return clean


def launch(principal: Principal, body: dict) -> tuple[Report, str]:
    """The site's report for the accession (created as Draft when new) and a fresh one-time code."""
    tags = _tags(body)
    site = policy.launchable_site(principal, tags["SiteID"])
    report = _existing(site.site_id, tags["Accession"]) or _create(principal, site.site_id, tags)
    return report, reporting_secrets.issue(reporting_secrets.CODE, report.report_id, sites.link_seconds(site))


def _existing(site_id: str, accession: str) -> Report | None:
    claim = get_or_none(AccessionClaim, AccessionClaim.key(site_id, accession), consistent_read=True)
    return None if claim is None else get_report(claim.report_id)


def _create(principal: Principal, site_id: str, tags: dict[str, str]) -> Report:
    report_id = clock.random_id(22)
    tags.setdefault("StudyInstanceUID", "")
    if not tags["StudyInstanceUID"]:
        from pydicom.uid import generate_uid

        tags["StudyInstanceUID"] = generate_uid()  # the SR then starts a study of its own
    report = Report(*Report.key(report_id), report_id=report_id, site_id=site_id,
                    accession=tags["Accession"], owner_name=tags["UserName"],
                    owner_email=tags["UserEmail"], launcher_sub=principal.sub, tags=tags,
                    updated_at=clock.utc_iso())
    claim = AccessionClaim(*AccessionClaim.key(site_id, tags["Accession"]), report_id=report_id)
    try:
        with transact() as transaction:
            transaction.save(claim, condition=AccessionClaim.pk.does_not_exist())
            transaction.save(report, condition=Report.pk.does_not_exist())
    except TransactWriteError:
        existing = _existing(site_id, tags["Accession"])  # a concurrent launch won
        if existing is None:
            raise
        return existing
    status_events.announce(report, status_events.sr_album(principal, tags["StudyInstanceUID"]))
    return report


def get_report(report_id: str) -> Report:
    report = get_or_none(Report, Report.key(report_id), consistent_read=True)
    if report is None:
        raise NotFound(policy.REPORT_REFUSAL, message="Report Not Found")
    return report


def report_for_code(code: str) -> Report:
    """The report a live (unused, unexpired) code opens, without consuming it."""
    return get_report(reporting_secrets.peek(reporting_secrets.CODE, code))


def open_session(code: str) -> tuple[str, Report]:
    """Consumes the one-time code and opens a session limited to its report."""
    report = get_report(reporting_secrets.consume(reporting_secrets.CODE, code))
    session = reporting_secrets.issue(reporting_secrets.SESSION, report.report_id, settings().report_session_seconds)
    return session, report


def report_for_session(session: str) -> Report:
    return get_report(reporting_secrets.peek(reporting_secrets.SESSION, session))


def _text(body: dict, name: str) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise BadRequest(f"{name} must be text of at most {MAX_TEXT} characters")
    return value


def save_draft(report: Report, body: dict) -> Report:
    findings, impression = _text(body, "findings"), _text(body, "impression")
    report.update(actions=[Report.findings.set(findings), Report.impression.set(impression),
                           Report.updated_at.set(clock.utc_iso())])
    return report


def sign(report: Report, body: dict) -> Report:
    """Signs the current text: Final the first time, Amended after. Stores the SR, builds the HL7
    and FHIR outputs, keeps the version, queues the site's format for its return endpoint (never
    waiting on it) and announces the new status."""
    report.findings, report.impression = _text(body, "findings"), _text(body, "impression")
    if not (report.findings.strip() or report.impression.strip()):
        raise BadRequest("a report needs findings or an impression before it is signed")
    version = report.version + 1
    report.status = "Final" if version == 1 else "Amended"
    site = sites.get_site(report.site_id)
    outputs = _messages(report, version)  # built and validated before anything is written
    outputs["return_format"] = (report.tags.get("ReturnFormat") or site.return_format).upper()
    outputs["sr"] = _store_sr(report, version)
    returned = returns.planned(report.report_id, version, site.return_endpoint, outputs["return_format"])
    _record(report, version, outputs, returned)
    if returned is not None:
        returns.enqueue(returned)
    # the SR's own IMPORT_SERIES event came from `Ingest.finish`
    status_events.announce(report, outputs["sr"]["album"], outputs["sr"])
    return report


def _messages(report: Report, version: int) -> dict:
    """The ORU^R01 and the DiagnosticReport of this version; what the site's tags cannot make
    valid (no PatientMRN for the FHIR subject, ...) is the caller's 400, before any write."""
    try:
        return {"hl7": hl7_oru.build_oru(report, f"{report.report_id}-{version}"),
                "fhir": fhir_report.build_diagnostic_report(report)}
    except (ValueError, TypeError) as error:  # pydantic's ValidationError is a ValueError
        raise BadRequest(f"the report's study tags cannot make a valid report: {_first_line(error)}",
                         message="Invalid Report") from error


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]


def _record(report: Report, version: int, outputs: dict, returned: ReportDelivery | None) -> None:
    moment = clock.utc_iso()
    try:
        with transact() as transaction:
            if returned is not None:
                transaction.save(returned, condition=ReportDelivery.pk.does_not_exist())
            transaction.save(ReportVersion(*ReportVersion.key(report.report_id, version), report_id=report.report_id,
                                           status=report.status, findings=report.findings,
                                           impression=report.impression, signed_at=moment, outputs=outputs),
                             condition=ReportVersion.pk.does_not_exist())
            transaction.update(report, actions=[
                Report.status.set(report.status), Report.findings.set(report.findings),
                Report.impression.set(report.impression), Report.version.set(version),
                Report.outputs.set(outputs), Report.updated_at.set(moment),
            ], condition=Report.version == version - 1)
    except TransactWriteError as error:
        raise Conflict("the report was signed concurrently; reload it") from error
    report.version, report.outputs, report.updated_at = version, outputs, moment


def _study_context(principal: Principal, tags: dict[str, str]) -> Dataset:
    """Patient/study identity for the SR: the study's as the launching user reads it (the series
    they can read, `search.readable_identity`), else only what the site sent (docs/reporting.md)."""
    from pydicom import Dataset

    study_uid = tags["StudyInstanceUID"]
    readable = search.readable_identity(principal, study_uid)
    if readable:
        return Dataset.from_json(readable)
    context = Dataset()
    context.StudyInstanceUID = study_uid
    context.PatientID = tags.get("PatientMRN", "")
    context.PatientName = sr.person_name(tags.get("PatientName", "")) if tags.get("PatientName") else ""
    context.PatientBirthDate = hl7_oru.to_dicom_date(tags.get("PatientBirthDate", ""))
    context.PatientSex = tags.get("PatientSex", "")[:1]
    context.StudyDate = hl7_oru.to_dicom_date(tags.get("StudyDate", ""))
    context.StudyTime = tags.get("StudyTime", "")[:6]
    context.AccessionNumber = tags.get("Accession", "")[:16]
    context.StudyDescription = tags.get("StudyDescription", "")[:64]
    return context


def _store_sr(report: Report, version: int) -> dict:
    """Stores the SR through the STOW ingest path as the launching site admin."""
    launcher = users.get_user(report.launcher_sub)
    if launcher is None:
        raise UpstreamFailure("the site admin who launched this report no longer exists")
    principal = Principal(kind=USER, user=launcher)
    study_uid = report.tags["StudyInstanceUID"]
    data = sr.build_sr(_study_context(principal, report.tags), report.findings, report.impression, report.owner_name,
                       final=True, series_number=9900 + version)
    ingest = Ingest(principal, policy.report_store_target(principal, study_uid), study_uid)
    ingest.add(data)
    result = ingest.finish()  # series objects and the album's IMPORT_SERIES event, as for STOW
    if result.failed:
        raise UpstreamFailure(f"the SR could not be stored: {result.failed[0].comment}")
    stored = result.stored[0]
    return {"studyInstanceUID": stored.study_uid, "seriesInstanceUID": stored.series_uid,
            "sopInstanceUID": stored.sop_uid, "album": result.album_id}


def report_for_site_admin(principal: Principal, report_id: str) -> Report:
    """The report, for one of its site's admins (its JSON, its HL7 and FHIR outputs); 404 for
    anyone else, as for an unknown report (`policy.require_report_reader`)."""
    report = get_report(report_id)
    policy.require_report_reader(principal, sites.get_site(report.site_id))
    return report
