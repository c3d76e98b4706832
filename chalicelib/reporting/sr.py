"""The signed report as a DICOM Comprehensive SR (TID 2000 basic diagnostic imaging report),
built with highdicom from the study's patient/study attributes."""
from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydicom import Dataset

LOINC = "LN"
DCM = "DCM"


def _context(attributes: Dataset) -> Dataset:
    """A stand-in evidence dataset carrying only the patient/study module values to inherit."""
    from pydicom import Dataset
    from pydicom.uid import generate_uid

    context = Dataset()
    for keyword in ("PatientID", "PatientName", "PatientBirthDate", "PatientSex", "StudyInstanceUID",
                    "StudyDate", "StudyTime", "AccessionNumber", "StudyID", "ReferringPhysicianName",
                    "StudyDescription"):
        setattr(context, keyword, attributes.get(keyword, ""))
    # collect_evidence reads these even with record_evidence=False; nothing is referenced.
    context.SOPClassUID, context.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.7", generate_uid()
    context.SeriesInstanceUID = generate_uid()
    return context


def person_name(name: str) -> str:
    """A DICOM/HL7 person name, Family^Given: "John Doe" becomes "Doe^John"; a single-component
    name gets the trailing caret that marks it as intended."""
    name = (name or "Unknown").strip()
    if "^" in name:
        return name
    given, _, family = name.rpartition(" ")
    return f"{family}^{given}" if given else name + "^"


def build_sr(attributes: Dataset, findings: str, impression: str, observer: str, final: bool,
             series_number: int = 9901) -> bytes:
    """Part-10 bytes of the SR; `attributes` carries the patient/study identity of the study."""
    import highdicom as hd
    from pydicom.uid import generate_uid

    code = hd.sr.CodedConcept
    items = [
        hd.sr.TextContentItem(name=code("121071", DCM, "Finding"), value=findings or "-",
                              relationship_type=hd.sr.RelationshipTypeValues.CONTAINS),
        hd.sr.TextContentItem(name=code("121073", DCM, "Impression"), value=impression or "-",
                              relationship_type=hd.sr.RelationshipTypeValues.CONTAINS),
    ]
    observer_context = hd.sr.ObserverContext(
        observer_type=hd.sr.CodedConcept("121006", DCM, "Person"),
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(name=person_name(observer)),
    )
    root = hd.sr.ContainerContentItem(
        name=code("18748-4", LOINC, "Diagnostic imaging report"), template_id="2000",
    )
    root.ContentSequence = [*hd.sr.ObservationContext(observer_person_context=observer_context), *items]
    document = hd.sr.ComprehensiveSR(
        evidence=[_context(attributes)], content=root, series_instance_uid=generate_uid(),
        series_number=series_number, sop_instance_uid=generate_uid(), instance_number=1,
        manufacturer="Obelisk", is_complete=final, is_final=final, is_verified=final,
        verifying_observer_name=person_name(observer) if final else None,
        verifying_organization="Obelisk" if final else None, record_evidence=False,
    )
    buffer = io.BytesIO()
    document.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
