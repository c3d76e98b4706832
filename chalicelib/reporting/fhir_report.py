"""The signed report as a FHIR R4 DiagnosticReport, validated by fhir.resources on the way out."""
from __future__ import annotations

import base64

from chalicelib import clock

STATUS = {"Final": "final", "Amended": "amended", "Draft": "preliminary"}


def build_diagnostic_report(report) -> dict:
    from fhir.resources.R4B.diagnosticreport import DiagnosticReport

    tags = report.tags
    text = f"FINDINGS:\n{report.findings}\n\nIMPRESSION:\n{report.impression}\n"
    resource = DiagnosticReport.model_validate({
        "resourceType": "DiagnosticReport",
        "id": report.report_id,
        "status": STATUS.get(report.status, "final"),
        "identifier": [{"system": f"urn:obelisk:site:{report.site_id}:accession", "value": report.accession}],
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "18748-4",
                             "display": "Diagnostic imaging study"}],
                 "text": tags.get("StudyDescription") or "Imaging report"},
        "subject": {"identifier": {"value": tags.get("PatientMRN", "")}, "display": tags.get("PatientName", "")},
        "issued": clock.utc_iso(),
        "resultsInterpreter": [{"display": report.owner_name}],
        "conclusion": report.impression,
        "presentedForm": [{"contentType": "text/plain",
                           "data": base64.b64encode(text.encode()).decode()}],
    })
    return resource.model_dump(mode="json", exclude_none=True)
