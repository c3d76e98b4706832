"""Pure logic of the reporting outputs: HL7 escaping and names, outbound policy."""
from __future__ import annotations

import json
from types import SimpleNamespace

import hl7
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from chalicelib import config
from chalicelib.events import deliveries
from chalicelib.reporting import returns as delivery
from chalicelib.reporting.hl7_oru import build_oru, to_dicom_date
from chalicelib.reporting.sr import person_name


def _report(**text):
    return SimpleNamespace(report_id="r1", site_id="demo", accession="A|1", status="Final", owner_name="Dr Who",
                           findings=text.get("findings", "a|b^c\nnext line"), impression="ok",
                           tags={"PatientName": "John Doe", "PatientMRN": "m1", "PatientBirthDate": "01021975",
                                 "PatientSex": "M", "StudyDate": "05022024", "StudyTime": "122009"})


def test_report_text_with_delimiters_survives_the_oru_message():
    message = hl7.parse(build_oru(_report(), "c1"))
    assert len(message.segments("OBX")) == 2
    assert str(message.segment("OBX")[5]) == "a\\F\\b\\S\\c\\.br\\next line"
    assert str(message.segment("OBR")[2]) == "A\\F\\1"
    assert str(message.segment("PID")[5]) == "Doe^John"
    assert str(message.segment("PID")[7]) == "19750102"
    strict = parse_message(build_oru(_report(), "c1"), validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
    assert strict.validate()


def test_launch_dates_in_month_day_year_become_dicom_dates():
    assert to_dicom_date("05022024") == "20240502"
    assert to_dicom_date("20240502") == "20240502"


def test_person_names_are_family_caret_given():
    assert person_name("John Doe") == "Doe^John"
    assert person_name("testphysician") == "testphysician^"
    assert person_name("Doe^Jane") == "Doe^Jane"


def test_a_refused_return_endpoint_is_a_failed_attempt(monkeypatch):
    monkeypatch.setenv("OBELISK_OUTBOUND_ALLOWLIST", "")
    config.reset()
    try:
        for endpoint in ("http://127.0.0.1:9/oru", "http://10.0.0.1/oru"):
            assert deliveries.post(endpoint, b"x", {}, "report") == deliveries.CONNECTION_ERROR
    finally:
        config.reset()


def test_the_return_sends_the_site_format_and_needs_an_endpoint():
    outputs = {"hl7": "MSH|^~\\&|", "fhir": {"resourceType": "DiagnosticReport"}}
    assert delivery.payload("HL7", outputs) == b"MSH|^~\\&|"
    assert json.loads(delivery.payload("FHIR", outputs)) == {"resourceType": "DiagnosticReport"}
    assert delivery.planned("r1", 1, "", "HL7") is None
    planned = delivery.planned("r1", 2, "https://ris.example/oru", "FHIR")
    assert (planned.sk, planned.state, planned.attempts) == ("DELIVERY#0002", "pending", [])
