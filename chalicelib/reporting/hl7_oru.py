"""The signed report as an HL7 v2.5.1 ORU^R01 message (one OBR, OBX per report section)."""
from __future__ import annotations

from chalicelib import clock
from chalicelib.reporting.sr import person_name

STATUS = {"Final": "F", "Amended": "C", "Draft": "P"}


def _escape(text: str) -> str:
    """HL7 escape sequences for the delimiters; line breaks become `\\.br\\`."""
    out = text.replace("\\", "\\E\\").replace("|", "\\F\\").replace("^", "\\S\\")
    out = out.replace("&", "\\T\\").replace("~", "\\R\\")
    return out.replace("\r\n", "\n").replace("\n", "\\.br\\")


def to_dicom_date(value: str) -> str:
    """Launch dates come as MMDDYYYY (the seed's convention) or YYYYMMDD."""
    value = (value or "").strip()
    if len(value) == 8 and value.isdigit() and not value.startswith(("19", "20")):
        return value[4:] + value[:2] + value[2:4]
    return value


def _segment(name: str, fields: dict[int, str]) -> str:
    """A segment from its numbered fields (HL7 numbering; MSH-1 is the field separator itself)."""
    last = max(fields)
    values = [fields.get(i, "") for i in range(1, last + 1)]
    return name + "|" + "|".join(values)


def build_oru(report, control_id: str) -> str:
    tags, result = report.tags, STATUS.get(report.status, "F")
    now = clock.now().strftime("%Y%m%d%H%M%S")
    name = "^".join(_escape(part) for part in person_name(tags.get("PatientName", "")).split("^"))
    observed = to_dicom_date(tags.get("StudyDate", "")) + tags.get("StudyTime", "")[:6]
    site = _escape(report.site_id)
    segments = [
        "MSH|^~\\&|" + "|".join(["OBELISK", "OBELISK", site, site, now, "", "ORU^R01^ORU_R01",
                                   _escape(control_id), "P", "2.5.1"]),
        _segment("PID", {1: "1", 3: _escape(tags.get("PatientMRN", "")), 5: name,
                         7: to_dicom_date(tags.get("PatientBirthDate", "")), 8: _escape(tags.get("PatientSex", "")[:1])}),
        _segment("OBR", {1: "1", 2: _escape(report.accession), 3: _escape(report.report_id),
                         4: "18748-4^" + _escape(tags.get("StudyDescription", "") or "Diagnostic imaging study") + "^LN",
                         7: observed, 13: _escape(tags.get("ReasonForExam", "")), 22: now, 24: "RAD", 25: result,
                         32: _escape(report.owner_name)}),
        _segment("OBX", {1: "1", 2: "TX", 3: "59776-5^Findings^LN", 5: _escape(report.findings), 11: result}),
        _segment("OBX", {1: "2", 2: "TX", 3: "19005-8^Impression^LN", 5: _escape(report.impression), 11: result}),
    ]
    return "\r".join(segments) + "\r"
