"""The de-identification of research albums (chalicelib/dicom/deidentify.py, docs/research-albums.md):
no planted identifying value survives the profile, UIDs stay consistent within an album and differ
across albums, and dciodvfy finds no new error in a copy."""
from __future__ import annotations

import re
import shutil
import subprocess

import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.data import get_testdata_file
from pydicom.datadict import keyword_for_tag
from pydicom.uid import generate_uid

from chalicelib.dicom.deidentify import (
    DESCRIPTORS,
    Profile,
    burned_in_reason,
    copy_uid,
    deidentify,
    is_copy_uid,
)
from tests.support.planted import FILES, PLANTABLE_TAGS, encoded, planted


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(FILES), token=st.text("ABCDEFGHJKLMNPQRSTUVWXYZ", min_size=6, max_size=6),
       share=st.floats(0.2, 1.0), options=st.fixed_dictionaries({
           "retainLongitudinal": st.booleans(), "retainPatientCharacteristics": st.booleans(),
           "cleanDescriptors": st.booleans(), "retainDeviceIdentity": st.booleans()}),
       nested=st.booleans(), secret=st.text("abcdef0123456789", min_size=8, max_size=16))
def test_no_planted_identifier_survives_the_profile(name, token, share, options, nested, secret):
    profile = Profile.from_dict(options)
    retained = profile.retained_keywords()
    tags = [t for t in PLANTABLE_TAGS if keyword_for_tag(t) not in retained]
    tags = tags[: max(1, int(len(tags) * share))]
    dataset, values = planted(name, token, tags, nested=nested)
    copy = deidentify(dataset, secret, profile)
    data = encoded(copy)
    leaked = sorted(v for v in values if v.encode() in data)
    assert not leaked, f"{name}: {leaked[:5]}"
    assert copy.PatientIdentityRemoved == "YES"
    assert not any(element.tag.is_private for element in copy.iterall())


def test_clean_descriptors_keep_descriptions_without_the_patients_identifiers():
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    dataset.PatientName = "Doe^Jonathan"
    dataset.PatientID = "MRN-99812"
    dataset.StudyDescription = "CT chest Jonathan DOE MRN-99812 follow-up"
    cleaned = deidentify(dataset, "k", Profile(clean_descriptors=True))
    assert cleaned.StudyDescription == "CT chest follow-up"
    assert "StudyDescription" not in deidentify(dataset, "k", Profile())
    assert set(DESCRIPTORS) >= {"StudyDescription", "SeriesDescription"}


def test_options_keep_what_they_name_and_nothing_else():
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    dataset.PatientSex, dataset.PatientAge, dataset.DeviceSerialNumber = "F", "054Y", "SN-4411"
    basic = deidentify(dataset, "k", Profile())
    assert basic.get("PatientAge") is None  # X: removed
    assert basic.get("DeviceSerialNumber") != "SN-4411"  # X/Z/D: a dummy value
    assert not basic.get("PatientSex")  # Z: emptied
    kept = deidentify(dataset, "k", Profile(retain_patient_characteristics=True, retain_device_identity=True))
    assert (kept.PatientSex, kept.PatientAge, kept.DeviceSerialNumber) == ("F", "054Y", "SN-4411")
    shifted = deidentify(dataset, "k", Profile(retain_longitudinal=True))
    assert shifted.StudyDate and shifted.StudyDate != dataset.StudyDate  # shifted, not removed
    assert not basic.get("StudyDate")


def test_uids_are_consistent_within_an_album_and_differ_across_albums():
    study = generate_uid()
    first, second = (pydicom.dcmread(get_testdata_file("CT_small.dcm")) for _ in range(2))
    for dataset in (first, second):
        dataset.StudyInstanceUID = study
    first.SeriesInstanceUID, second.SeriesInstanceUID = generate_uid(), generate_uid()
    a1, a2 = deidentify(first, "album-a", Profile()), deidentify(second, "album-a", Profile())
    b1 = deidentify(first, "album-b", Profile())
    assert a1.StudyInstanceUID == a2.StudyInstanceUID != study
    assert a1.SeriesInstanceUID != a2.SeriesInstanceUID
    assert b1.StudyInstanceUID != a1.StudyInstanceUID
    assert a1.PatientID == a2.PatientID != b1.PatientID
    assert a1.PatientID != first.PatientID
    assert a1.SOPClassUID == first.SOPClassUID  # class UIDs are not identifiers
    assert a1.file_meta.MediaStorageSOPInstanceUID == a1.SOPInstanceUID


def test_a_copy_uid_of_the_album_is_kept_so_objects_made_from_copies_keep_their_references():
    copied = copy_uid("k", "1.2.3.4")
    assert is_copy_uid("k", copied) and copy_uid("k", copied) == copied
    assert not is_copy_uid("other", copied) and copy_uid("other", copied) != copied
    assert len(copied) <= 64
    assert not is_copy_uid("k", "2.25." + str(2**127 + 12345))


def test_series_likely_to_carry_burned_in_identifiers_are_recognised():
    assert burned_in_reason(pydicom.dcmread(get_testdata_file("US1_UNCR.dcm"))) == "modality US"
    assert burned_in_reason(pydicom.dcmread(get_testdata_file("SC_rgb_jpeg_dcmtk.dcm")))
    ct = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    assert burned_in_reason(ct) is None
    ct.BurnedInAnnotation = "YES"
    assert burned_in_reason(ct) == "BurnedInAnnotation YES"


# ---- dciodvfy ---------------------------------------------------------------------------------

DCIODVFY = shutil.which("dciodvfy")
_VALUES = re.compile(r"<[^>]*>|\"[^\"]*\"|[0-9]+(\.[0-9]+){2,}")


def dciodvfy_errors(data: bytes, tmp_path, name: str) -> set[str]:
    path = tmp_path / name
    path.write_bytes(data)
    run = subprocess.run([DCIODVFY, str(path)], capture_output=True, text=True, timeout=60)
    return {_VALUES.sub("_", line) for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")}


@pytest.mark.skipif(DCIODVFY is None, reason="dciodvfy (Debian package dicom3tools) is not installed: `make test-deps`")
@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("options", [{}, {"retainLongitudinal": True, "retainPatientCharacteristics": True,
                                          "cleanDescriptors": True, "retainDeviceIdentity": True}])
def test_dciodvfy_finds_no_new_error_in_a_copy(name, options, tmp_path):
    original = pydicom.dcmread(get_testdata_file(name))
    before = dciodvfy_errors(encoded(original), tmp_path, "original.dcm")
    after = dciodvfy_errors(encoded(deidentify(original, "album-secret", Profile.from_dict(options))), tmp_path, "copy.dcm")
    assert after <= before, sorted(after - before)
