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


def build_oru(report, control_id: str) -> str:
    tags, result = report.tags, STATUS.get(report.status, "F")
    now = clock.now().strftime("%Y%m%d%H%M%S")
    name = "^".join(_escape(part) for part in person_name(tags.get("PatientName", "")).split("^"))
    segments = [
        f"MSH|^~\\&|OBELISK|OBELISK|{_escape(report.site_id)}|{_escape(report.site_id)}|{now}||ORU^R01^ORU_R01|{control_id}|P|2.5.1",
        f"PID|1||{_escape(tags.get('PatientMRN', ''))}||{name}||"
        f"{to_dicom_date(tags.get('PatientBirthDate', ''))}|{_escape(tags.get('PatientSex', ''))[:1]}",
        f"OBR|1|{_escape(report.accession)}|{_escape(report.report_id)}|^{_escape(tags.get('StudyDescription', ''))}|||"
        f"{to_dicom_date(tags.get('StudyDate', ''))}{tags.get('StudyTime', '')[:6]}||||||"
        f"{_escape(tags.get('ReasonForExam', ''))}|||||||{now}||{_escape(tags.get('Modality', ''))}|{result}",
        f"OBX|1|TX|59776-5^Findings^LN||{_escape(report.findings)}||||||{result}",
        f"OBX|2|TX|19005-8^Impression^LN||{_escape(report.impression)}||||||{result}",
    ]
    return "\r".join(segments) + "\r"
