"""The options of a research album's de-identification (PS3.15 §E.3), without the DICOM stack:
album creation and the album response read them; `dicom.deidentify` applies them."""
from __future__ import annotations

from dataclasses import dataclass

OPTION_FIELDS = {  # form field -> Profile attribute
    "retainLongitudinal": "retain_longitudinal",
    "retainPatientCharacteristics": "retain_patient_characteristics",
    "cleanDescriptors": "clean_descriptors",
    "retainDeviceIdentity": "retain_device_identity",
}

# PS3.15 Table E.1-1, option columns: the attributes each option keeps (K) or cleans (C).
PATIENT_CHARACTERISTICS = ("PatientAge", "PatientSex", "PatientSize", "PatientWeight", "EthnicGroup",
                           "SmokingStatus", "PregnancyStatus", "PatientSexNeutered", "AllergiesCodeSequence")
DEVICE_IDENTITY = ("StationName", "DeviceSerialNumber", "DeviceUID", "DeviceLabel", "DetectorID", "GantryID",
                   "PlateID", "CassetteID", "GeneratorID", "SourceSerialNumber", "PerformedStationName",
                   "ScheduledStationName", "DeviceID", "NTPSourceAddress", "RadiationMachineName")
DESCRIPTORS = ("StudyDescription", "SeriesDescription", "ProtocolName", "PerformedProcedureStepDescription",
               "RequestedProcedureDescription", "ScheduledProcedureStepDescription", "ImageComments",
               "AcquisitionComments", "DerivationDescription", "AdmittingDiagnosesDescription")


@dataclass(frozen=True)
class Profile:
    """The options of PS3.15 §E.3 a research album applies on top of the basic profile."""

    retain_longitudinal: bool = False
    retain_patient_characteristics: bool = False
    clean_descriptors: bool = False
    retain_device_identity: bool = False

    def as_dict(self) -> dict[str, bool]:
        return {field: getattr(self, attr) for field, attr in OPTION_FIELDS.items()}

    @classmethod
    def from_dict(cls, values: dict | None) -> Profile:
        values = values or {}
        return cls(**{attr: bool(values.get(field, False)) for field, attr in OPTION_FIELDS.items()})

    def retained_keywords(self) -> set[str]:
        kept = set()
        if self.retain_patient_characteristics:
            kept |= set(PATIENT_CHARACTERISTICS)
        if self.retain_device_identity:
            kept |= set(DEVICE_IDENTITY)
        if self.clean_descriptors:
            kept |= set(DESCRIPTORS)
        return kept
