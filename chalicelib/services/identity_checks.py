"""The study an instance joins, as its sender reads it: the attributes the instance must agree on
with it (a conflict refuses the instance, 0x0106) and those it takes from it when it lacks them
(PS3.18 coercion, warning 0xB000). Pure functions over DICOM JSON; `services/ingest.py` reads the
study and applies them."""
from __future__ import annotations

from chalicelib.dicom import json_model

# Attributes an instance must agree on with the study it joins, when its sender reads the study.
STUDY_IDENTITY_KEYWORDS = ("PatientID", "PatientName", "PatientBirthDate", "PatientSex",
                           "StudyDate", "AccessionNumber", "StudyID")
# What an instance lacking them (or leaving them empty) gets from the study it joins, with warning
# 0xB000: the attributes it must agree on. Other study-level attributes are stored as sent.
COERCIBLE_KEYWORDS = STUDY_IDENTITY_KEYWORDS



def conflicts(incoming: dict, reference: dict) -> list[str]:
    """The tags of the identity attributes the instance (`incoming`, DICOM JSON) sets to other
    values than the study's (`reference`); an attribute the instance leaves empty agrees."""
    return [json_model.tag_hex(k) for k in STUDY_IDENTITY_KEYWORDS
            if json_model.text_value(incoming, k) and json_model.text_value(incoming, k) != json_model.text_value(reference, k)]


def coerce(dataset, reference: dict | None, incoming: dict) -> list[str]:
    """Study-level attributes the instance lacks (or leaves empty) set to the stored study's,
    as PS3.18 coercion (`incoming`: the instance's DICOM JSON); the tags changed."""
    if not reference:
        return []
    missing = {tag: reference[tag] for tag in (json_model.tag_hex(k) for k in COERCIBLE_KEYWORDS)
               if tag in reference and json_model.first_value(reference, tag) is not None
               and json_model.first_value(incoming, tag) in (None, "")}
    if not missing:
        return []
    from pydicom import Dataset

    for coerced in Dataset.from_json(missing):
        dataset[coerced.tag] = coerced
    return sorted(missing)
