"""The de-identification of research albums (chalicelib/dicom/deidentify.py, docs/research-albums.md):
no planted identifying value survives the profile, UIDs stay consistent within an album and differ
across albums, and dciodvfy finds no new error in a copy."""
from __future__ import annotations

import io
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
    IMPLEMENTATION_CLASS_UID,
    Profile,
    burned_in_reason,
    copy_uid,
    deidentify,
    is_copy_uid,
)
from tests.support.planted import FILES, PLANTABLE_TAGS, encoded, free_text_marker, planted


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
    if not profile.clean_descriptors:  # free text is replaced whole; cleaned and kept under the option
        values.add(free_text_marker(token))
    copy = deidentify(dataset, secret, profile)
    data = encoded(copy).lower()
    leaked = sorted(v for v in values if v.lower().encode() in data)
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


# ---- free text, times, file meta (attack round 5: L1, L2, L3) ---------------------------------


def _report(text: str) -> pydicom.Dataset:
    """test-SR.dcm for patient ZORBLAX^QUENTIN^J (MRN-7733991), with a TEXT item naming him, a
    TIME item and a DATETIME item at 12:00, an IMAGE and a UIDREF item."""
    sr = pydicom.dcmread(get_testdata_file("test-SR.dcm"))
    sr.PatientName, sr.PatientID, sr.PatientBirthDate = "ZORBLAX^QUENTIN^J", "MRN-7733991", "19610413"
    sr.ReferringPhysicianName = "HEMLOCK^DOCTOR"
    items = []
    for value_type, keyword, value in (("TEXT", "TextValue", text), ("TIME", "Time", "120000"),
                                       ("DATETIME", "DateTime", "20001206120000"), ("UIDREF", "UID", "1.2.3.4.5")):
        item = pydicom.Dataset()
        item.RelationshipType, item.ValueType = "CONTAINS", value_type
        setattr(item, keyword, value)
        concept = pydicom.Dataset()
        concept.CodeValue, concept.CodingSchemeDesignator, concept.CodeMeaning = "121071", "DCM", "Finding"
        item.ConceptNameCodeSequence = pydicom.Sequence([concept])
        items.append(item)
    image = pydicom.Dataset()
    image.RelationshipType, image.ValueType = "CONTAINS", "IMAGE"
    reference = pydicom.Dataset()
    reference.ReferencedSOPClassUID, reference.ReferencedSOPInstanceUID = "1.2.840.10008.5.1.4.1.1.2", "1.2.3.4.6"
    image.ReferencedSOPSequence = pydicom.Sequence([reference])
    sr.ContentSequence = pydicom.Sequence([*sr.ContentSequence, *items, image])
    return sr


def _items(copy, value_type: str) -> list:
    return [item for item in copy.ContentSequence if item.ValueType == value_type]


def test_sr_text_items_lose_their_text_and_keep_the_tree_codes_and_references():
    """L1: a TEXT item naming the patient and his MRN reached every member verbatim."""
    sr = _report("Patient ZORBLAX QUENTIN MRN-7733991 seen by HEMLOCK")
    copy = deidentify(sr, "album", Profile())
    data = encoded(copy)
    for value in (b"ZORBLAX", b"QUENTIN", b"7733991", b"HEMLOCK", b"Sample Text"):
        assert value not in data
    assert [item.ValueType for item in copy.ContentSequence] == [item.ValueType for item in sr.ContentSequence]
    assert {item.TextValue for item in _items(copy, "TEXT")} == {"REMOVED"}
    text = _items(copy, "TEXT")[-1]  # the one `_report` added
    assert text.ConceptNameCodeSequence[0].CodeMeaning == "Finding"  # codes kept
    uidref = _items(copy, "UIDREF")[-1]
    assert uidref.UID == copy_uid("album", "1.2.3.4.5")
    image = _items(copy, "IMAGE")[-1]
    assert image.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == copy_uid("album", "1.2.3.4.6")
    assert image.ReferencedSOPSequence[0].ReferencedSOPClassUID == "1.2.840.10008.5.1.4.1.1.2"


def test_under_clean_descriptors_sr_text_keeps_what_is_left_without_identifiers():
    sr = _report("Patient Zorblax, Quentin J. (MRN 7733991, born 13/04/1961) seen by Dr Hemlock: no change")
    copy = deidentify(sr, "album", Profile(clean_descriptors=True))
    [text] = [item.TextValue for item in _items(copy, "TEXT") if "no change" in item.TextValue]
    assert text == "Patient (born) seen by Dr: no change"  # "MRN" is part of the ID


def test_a_time_item_moves_with_the_albums_offset_like_its_datetime_neighbour():
    """L1 (LOW in the report): the TIME item kept 120000 while the DATETIME moved by -356 d +8 h."""
    copy = deidentify(_report("x"), "album", Profile(retain_longitudinal=True))
    time, moment = _items(copy, "TIME")[-1], _items(copy, "DATETIME")[-1]
    assert moment.DateTime != "20001206120000"
    assert time.Time == moment.DateTime[8:14]  # both were 12:00:00 on the original
    lone = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    lone.StudyDate, lone.StudyTime, lone.AcquisitionTime = "20001206", "120000", "120000"
    del lone.AcquisitionDate  # a time without its date
    shifted = deidentify(lone, "album", Profile(retain_longitudinal=True))
    assert shifted.AcquisitionTime == shifted.StudyTime != "120000"


def test_the_file_meta_of_a_copy_holds_only_what_part_10_requires():
    """L2: the sender's AE titles and private information reached every Part-10 answer."""
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    meta = dataset.file_meta
    meta.SourceApplicationEntityTitle, meta.SendingApplicationEntityTitle = "ZORBAE", "SENDAE"
    meta.ReceivingApplicationEntityTitle, meta.SourcePresentationAddress = "RECVAE", "https://pacs.example/zorb"
    meta.PrivateInformationCreatorUID, meta.PrivateInformation = "1.2.3.4", b"PLNT-FM-ZORBLAX"
    meta.ImplementationVersionName = "SITEPACS_2"
    copy = deidentify(dataset, "album", Profile())
    data = encoded(copy)
    for value in (b"ZORBAE", b"SENDAE", b"RECVAE", b"pacs.example", b"PLNT-FM", b"SITEPACS"):
        assert value not in data
    assert set(e.keyword for e in copy.file_meta) <= {
        "FileMetaInformationGroupLength", "FileMetaInformationVersion", "MediaStorageSOPClassUID",
        "MediaStorageSOPInstanceUID", "TransferSyntaxUID", "ImplementationClassUID", "ImplementationVersionName"}
    assert copy.file_meta.MediaStorageSOPInstanceUID == copy.SOPInstanceUID
    assert copy.file_meta.TransferSyntaxUID == dataset.file_meta.TransferSyntaxUID
    assert copy.file_meta.ImplementationClassUID == IMPLEMENTATION_CLASS_UID
    reread = pydicom.dcmread(io.BytesIO(data))
    assert "SourceApplicationEntityTitle" not in reread.file_meta and "PrivateInformation" not in reread.file_meta


@pytest.mark.parametrize(("original", "cleaned"), [
    ("comments Zorblax, Quentin J. MRN 7733991 born 1961-04-13 -IMGCOM", "comments born -IMGCOM"),
    ("series of zorblax quentin 7733991 -SERDESC", "series of -SERDESC"),
    ("MRN 7733991 born 1961-04-13", "born"),
    ("J. Zorblax, dob 13.04.1961 / 04/13/1961 / 13/04/1961 / 19610413 / April 13, 1961", "dob / / / /"),
    ("QuentinZorblax acc ACC55219 (55219), other id 4481907", "acc, other id"),
    ("J wave, lead V2", "J wave, lead V2"),  # an initial alone is no name
])
def test_clean_descriptors_remove_identifiers_written_differently(original, cleaned):
    """L3: only exact copies of whole values were removed."""
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    dataset.PatientName, dataset.PatientID, dataset.PatientBirthDate = "ZORBLAX^QUENTIN^J", "MRN-7733991", "19610413"
    dataset.AccessionNumber, dataset.OtherPatientIDs = "ACC55219", "H-4481907"
    dataset.ImageComments = original
    item = pydicom.Dataset()
    item.StudyDescription = original
    dataset.ReferencedStudySequence = pydicom.Sequence([item])
    copy = deidentify(dataset, "album", Profile(clean_descriptors=True))
    assert copy.ImageComments == cleaned
    assert copy.ReferencedStudySequence[0].StudyDescription == cleaned  # nested descriptions too


def test_overlay_descriptions_are_removed_or_cleaned():
    dataset = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    dataset.PatientName = "ZORBLAX^QUENTIN"
    dataset.add_new(0x60020022, "LO", "Quentin Zorblax ROI marks")
    dataset.add_new(0x60021500, "LO", "ZORBLAX")
    assert 0x60020022 not in deidentify(dataset, "album", Profile())
    assert 0x60021500 not in deidentify(dataset, "album", Profile())
    cleaned = deidentify(dataset, "album", Profile(clean_descriptors=True))
    assert cleaned[0x60020022].value == "ROI marks" and cleaned[0x60021500].value == ""


# ---- attack round 6 ---------------------------------------------------------------------------


def _patient_1958(**values) -> pydicom.Dataset:
    """CT_small.dcm for VOSKUIJLEN^MARGRIT (PID-5518203), born 19580722, studied 20220614."""
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    dataset.PatientName, dataset.PatientID, dataset.PatientBirthDate = "VOSKUIJLEN^MARGRIT", "PID-5518203", "19580722"
    dataset.StudyDate, dataset.SeriesDate, dataset.AcquisitionDate, dataset.ContentDate = ("20220614",) * 4
    for keyword, value in values.items():
        setattr(dataset, keyword, value)
    return dataset


@pytest.mark.parametrize("spelling", [
    "22-Jul-1958", "22-JUL-1958", "22/Jul/1958", "22/JUL/1958", "22.Jul.1958", "1958-Jul-22", "Jul-22-1958",
    "22071958", "07221958", "22 - 07 - 1958", "22nd July 1958", "14-Jun-2022", "14 - 06 - 2022", "06142022",
    "05518203", "0005518203",
    "22_07_1958", "1958_07_22", "22,07,1958", "2022_06_14", "20220614083015", "20220614083015.25",
    "1958:07:22", "2022:06:14", "22:07:1958", "2022|06|14", "2022__06__14", "22\\07\\1958", "22·07·1958",
    "2022・06・14", "2022〜06〜14", "2022_0614", "202206-14",
    "2022----06----14", "2022 - - - - 06 - - - - 14", "1958-22-07", "20221406"])
@pytest.mark.parametrize("options", [{"cleanDescriptors": True}, {"cleanDescriptors": True, "retainLongitudinal": True}])
def test_clean_descriptors_remove_every_date_and_the_id_in_more_spellings(spelling, options):
    """Round 6, leak 1: month names with - / . separators, compact and spaced numeric dates, the
    study date (it gives away a longitudinal album's offset) and the zero-padded MRN were kept."""
    copy = deidentify(_patient_1958(ImageComments=f"dob {spelling} control"), "album", Profile.from_dict(options))
    assert copy.ImageComments == "dob control"


@pytest.mark.parametrize(("name", "text", "cleaned"), [
    ("山田^太郎", "山田太郎様 CT", "様 CT"),
    ("李^小龙", "患者李小龙 chest", "患者 chest"),
    ("KIM^MIN JUN=김^민준", "김민준 환자", "환자"),
    ("GARCÍA LÓPEZ^JOSÉ", "GARCIA LOPEZ JOSE head", "head"),
    ("MULLER^RENE", "Müller René head", "head"),
    ("ΠΑΠΑΔΟΠΟΥΛΟΣ^ΝΙΚΟΣ", "Παπαδόπουλος Νίκος head", "head"),
    ("Straßer^Jürgen", "STRASSER head", "head"),
    ("Straßer^Jürgen", "Ju\u0308rgen (NFD) head", "(NFD) head"),
    ("Østergård^Ida", "Ostergard / OESTERGAARD head", "head"),
    ("IŞIK^AYLİN", "AYLİN aylin Işık head", "head"),
    ("ﾔﾏﾀﾞ^ﾀﾛｳ", "ヤマダ タロウ head", "head"),
    ("VOSKUIJLEN^MARGRIT", "ＶＯＳＫＵＩＪＬＥＮ Ｍａｒｇｒｉｔ ｈｅａｄ", "ｈｅａｄ"),  # what is kept keeps its characters
    ("NGUYỄN^VĂN", "NGUYEN VAN, Nguyễn Văn: chest", "chest"),
])
def test_clean_descriptors_remove_names_in_other_scripts_and_unicode_forms(name, text, cleaned):
    """Round 6, leak 2: CJK names without spaces, accents stripped or added, ß as SS, NFD,
    Turkish İ/ı, half- and full-width forms were kept."""
    copy = deidentify(_patient_1958(PatientName=name, SeriesDescription=text), "album", Profile(clean_descriptors=True))
    assert copy.SeriesDescription == cleaned


def test_names_of_staff_in_ideographic_groups_are_removed_from_descriptions():
    dataset = _patient_1958(ReferringPhysicianName="SUZUKI^ICHIRO=鈴木^一郎", StudyDescription="鈴木一郎医師 依頼")
    assert deidentify(dataset, "album", Profile(clean_descriptors=True)).StudyDescription == "医師 依頼"


def _code(value: str, meaning: str) -> pydicom.Dataset:
    code = pydicom.Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = value, "99SITE", meaning
    return code


ALL_OPTIONS = {"retainLongitudinal": True, "retainPatientCharacteristics": True, "cleanDescriptors": True,
               "retainDeviceIdentity": True}


@pytest.mark.parametrize("options", [{}, {"cleanDescriptors": True}, ALL_OPTIONS])
def test_code_items_naming_the_site_and_staff_are_removed_in_every_profile(options):
    """Round 6, leak 3: the institution's code, staff IDs and names in person identification
    codes, and the MRN's issuer stayed in the copies, basic profile included."""
    dataset = _patient_1958()
    dataset.InstitutionCodeSequence = pydicom.Sequence([_code("QFC-5518", "Quillfeather Clinic, Kestrel Valley")])
    for keyword, value, name in (("OperatorIdentificationSequence", "EMP-44812", "Brackenridge, Olwen"),
                                 ("RequestingPhysicianIdentificationSequence", "EMP-77120", "Thistlewood, Anselm")):
        person = pydicom.Dataset()
        person.PersonIdentificationCodeSequence = pydicom.Sequence([_code(value, name)])
        setattr(dataset, keyword, pydicom.Sequence([person]))
    issuer = pydicom.Dataset()
    issuer.UniversalEntityID, issuer.UniversalEntityIDType = "mrn.quillfeather-clinic.example", "DNS"
    issuer.LocalNamespaceEntityID = "QUILLFEATHER-MRN"
    dataset.IssuerOfPatientIDQualifiersSequence = pydicom.Sequence([issuer])
    dataset.HumanPerformerCodeSequence = pydicom.Sequence([_code("EMP-90311", "Fenwright, Isolde")])
    data = encoded(deidentify(dataset, "album", Profile.from_dict(options))).lower()
    for value in ("QFC-5518", "Quillfeather", "EMP-44812", "Brackenridge", "EMP-77120", "Thistlewood",
                  "EMP-90311", "Fenwright"):
        assert value.lower().encode() not in data


@pytest.mark.parametrize(("options", "kept"), [({}, "REMOVED"), ({"cleanDescriptors": True}, "Report for")])
def test_the_text_of_an_sr_root_content_item_is_replaced_like_nested_text(options, kept):
    """Round 6, leak 4: a TextValue on the SR's root CONTAINER was copied verbatim."""
    sr = _report("x")
    sr.PatientName, sr.PatientID = "VOSKUIJLEN^MARGRIT", "PID-5518203"
    sr.TextValue = "Report for VOSKUIJLEN MARGRIT PID-5518203"
    assert deidentify(sr, "album", Profile.from_dict(options)).TextValue == kept


def test_standard_attributes_sent_as_ob_are_read_with_their_dictionary_vr():
    """Round 6, leak 5: UIDs, SR text and a description written with VR OB were copied byte for byte."""
    dataset = _patient_1958()
    frame, creator, referenced = generate_uid(), generate_uid(), generate_uid()
    dataset.add_new(0x00200052, "OB", frame.encode() + b"\0")  # FrameOfReferenceUID
    dataset.add_new(0x00080014, "OB", creator.encode() + b"\0")  # InstanceCreatorUID
    item = pydicom.Dataset()
    item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    item.add_new(0x00081155, "OB", referenced.encode() + b"\0")  # ReferencedSOPInstanceUID
    dataset.ReferencedImageSequence = pydicom.Sequence([item])
    dataset.add_new(0x00204000, "OB", b"[OB] Patient VOSKUIJLEN MARGRIT PID-5518203 ")  # ImageComments
    for options in ({}, {"cleanDescriptors": True}):
        copy = deidentify(dataset, "album", Profile.from_dict(options))
        data = encoded(copy)
        for value in (frame, creator, referenced, "VOSKUIJLEN", "5518203"):
            assert value.encode() not in data
        assert copy.FrameOfReferenceUID == copy_uid("album", frame)
        assert copy.ReferencedImageSequence[0].ReferencedSOPInstanceUID == copy_uid("album", referenced)
    assert copy.ImageComments == "[OB] Patient"
    sr = _report("x")
    sr.ContentSequence[-2].add_new(0x0040A160, "OB", b"[OB] Patient ZORBLAX QUENTIN MRN-7733991 ")  # TextValue
    assert b"ZORBLAX" not in encoded(deidentify(sr, "album", Profile()))


def test_the_manufacturers_device_class_uid_is_replaced():
    """Round 6, leak 6: Table E.1-1 gives (0018,100B) U; it was kept as a class UID."""
    dataset = _patient_1958()
    dataset.add_new(0x0018100B, "UI", "1.2.999.6.4242")
    for options in ({}, ALL_OPTIONS):
        copy = deidentify(dataset, "album", Profile.from_dict(options))
        assert copy[0x0018100B].value == copy_uid("album", "1.2.999.6.4242")


def test_attributes_the_table_does_not_list_are_removed_or_cleaned():
    """Round 6, leak 7: the birth date in another calendar, document titles, content labels,
    retired text attributes and an undefined public element stayed in every profile."""
    dataset = _patient_1958(PatientBirthDateInAlternativeCalendar="1958-07-22 (greg.)",
                            DocumentTitle="Report VOSKUIJLEN", ContentDescription="for VOSKUIJLEN MARGRIT",
                            ContentLabel="VOSKUIJLEN", RecognitionCode="VOSKUIJLEN-RC",
                            DataSetSubtype="VOSKUIJLEN-DS", OriginalImageIdentificationNomenclature="VOSKUIJLEN-OI")
    dataset.add_new(0x00089999, "LO", "VOSKUIJLEN-UNDEF")
    for options in ({}, ALL_OPTIONS):
        copy = deidentify(dataset, "album", Profile.from_dict(options))
        assert b"VOSKUIJLEN" not in encoded(copy) and b"1958-07-22" not in encoded(copy)
    assert "DocumentTitle" not in deidentify(dataset, "album", Profile())
    assert copy.DocumentTitle == "Report" and copy.ContentDescription == "for"


@pytest.mark.parametrize(("name", "text"), [("MULLER^RENE", "MUELLER head"), ("OSTERGARD^SOREN", "OESTERGAARD head"),
                                            ("O'BRIEN^SEAN", "O\u2019Brien Sean head")])
def test_clean_descriptors_remove_transliterated_names_of_a_plain_name(name, text):
    """Round 6, leak 2 (the reverse way): a plain PN and its transliteration (or a typographic apostrophe) in text."""
    copy = deidentify(_patient_1958(PatientName=name, ImageComments=text), "album", Profile(clean_descriptors=True))
    assert copy.ImageComments == "head"


# ---- attack round 7 ---------------------------------------------------------------------------

PACS = "https://pacs.quillfeather-clinic.example/wado/VOSKUIJLEN-PID-5518203"


@pytest.mark.parametrize("options", [{}, {"cleanDescriptors": True}, ALL_OPTIONS])
def test_retrieve_and_storage_addresses_are_removed_at_every_level(options):
    """Round 7, leak 1: RetrieveURL, RetrieveURI, StorageURL (VR UR), at the top level and in the
    evidence's series references, named the sending PACS and held the original UIDs."""
    dataset = _patient_1958()
    study, series = dataset.StudyInstanceUID, dataset.SeriesInstanceUID
    dataset.RetrieveURL = f"{PACS}/studies/{study}"
    dataset.add_new(0x00404073, "UR", f"{PACS}/store")  # StorageURL
    referenced = pydicom.Dataset()
    referenced.SeriesInstanceUID = series
    referenced.RetrieveURL = f"{PACS}/studies/{study}/series/{series}"
    referenced.RetrieveURI = f"{PACS}/uri/{series}"
    evidence = pydicom.Dataset()
    evidence.StudyInstanceUID = study
    evidence.ReferencedSeriesSequence = pydicom.Sequence([referenced])
    dataset.CurrentRequestedProcedureEvidenceSequence = pydicom.Sequence([evidence])
    copy = deidentify(dataset, "album", Profile.from_dict(options))
    data = encoded(copy)
    for value in (b"quillfeather", study.encode(), series.encode(), b"5518203"):
        assert value not in data
    assert not [element for element in copy.iterall() if element.VR == "UR"]
    assert copy.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0].SeriesInstanceUID \
        == copy_uid("album", series)


@pytest.mark.parametrize("options", [{}, {"cleanDescriptors": True}, ALL_OPTIONS])
def test_original_uids_written_in_remaining_text_become_the_copy_uids(options):
    """Round 7, leak 2: a description naming the original series and comments holding the study,
    SOP and frame of reference UIDs were copied verbatim under Clean Descriptors."""
    dataset = _patient_1958(FrameOfReferenceUID=generate_uid())
    uids = {k: str(dataset[k].value) for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID",
                                                 "FrameOfReferenceUID")}
    dataset.SeriesDescription = f"re-recon of series {uids['SeriesInstanceUID']}"
    dataset.ImageComments = " ".join(f"{k}={v}" for k, v in uids.items())
    dataset.Manufacturer = f"from {uids['StudyInstanceUID']}."
    copy = deidentify(dataset, "album", Profile.from_dict(options))
    data = encoded(copy)
    assert not [v for v in uids.values() if v.encode() in data]
    assert copy.Manufacturer == f"from {copy_uid('album', uids['StudyInstanceUID'])}."
    if options:
        assert copy.SeriesDescription == f"re-recon of series {copy.SeriesInstanceUID}"


@pytest.mark.parametrize("options", [{"cleanDescriptors": True}, ALL_OPTIONS])
def test_under_clean_descriptors_every_remaining_text_loses_the_identity_values(options):
    """Round 7, leak 2: only the listed descriptions were cleaned; any other text kept the name."""
    dataset = _patient_1958(Manufacturer="Scanner of VOSKUIJLEN MARGRIT PID-5518203")
    assert deidentify(dataset, "album", Profile.from_dict(options)).Manufacturer == "Scanner of"


def _text_value_item(text: str) -> pydicom.Dataset:
    item = pydicom.Dataset()
    item.ReferencedSOPClassUID, item.ReferencedSOPInstanceUID = "1.2.840.10008.5.1.4.1.1.2", generate_uid()
    item.TextValue = text
    return item


@pytest.mark.parametrize(("options", "kept"), [({}, "REMOVED"), ({"cleanDescriptors": True}, "TV born"),
                                               (ALL_OPTIONS, "TV born")])
def test_a_text_value_outside_an_sr_tree_is_replaced_like_sr_text(options, kept):
    """Round 7, leak 3: TextValue at the top level of a CT and in a referenced image's item was kept verbatim."""
    text = "TV VOSKUIJLEN MARGRIT PID-5518203 born 19580722"
    dataset = _patient_1958(TextValue=text, ReferencedImageSequence=pydicom.Sequence([_text_value_item(text)]))
    copy = deidentify(dataset, "album", Profile.from_dict(options))
    assert (copy.TextValue, copy.ReferencedImageSequence[0].TextValue) == (kept, kept)


@pytest.mark.parametrize("options", [{}, {"cleanDescriptors": True}, ALL_OPTIONS])
def test_order_and_facility_identifiers_and_staff_names_are_removed_in_every_profile(options):
    """Round 7, leak 4: order placer/filler and assigning facility issuers, a contact's and a
    hanging protocol creator's names were kept, basic profile included."""
    dataset = _patient_1958(ContactDisplayName="Brackenridge, Olwen", HangingProtocolCreator="Thistlewood")
    for keyword in ("OrderPlacerIdentifierSequence", "OrderFillerIdentifierSequence", "AssigningFacilitySequence"):
        issuer = pydicom.Dataset()
        issuer.LocalNamespaceEntityID, issuer.UniversalEntityID = "QUILLFEATHER", "uei.quillfeather-clinic.example"
        issuer.UniversalEntityIDType = "DNS"
        setattr(dataset, keyword, pydicom.Sequence([issuer]))
    data = encoded(deidentify(dataset, "album", Profile.from_dict(options))).lower()
    for value in (b"quillfeather", b"brackenridge", b"thistlewood"):
        assert value not in data


def test_device_id_ntp_source_and_machine_name_are_kept_only_with_the_device_identity_option():
    """Round 7, leak 4: DeviceID (0018,1003), NTPSourceAddress and RadiationMachineName were kept without the option."""
    values = {"DeviceID": "DEV-QF-0042", "NTPSourceAddress": "ntp.quillfeather.example", "RadiationMachineName": "QF-LINAC2"}
    dataset = _patient_1958(**values)
    basic = deidentify(dataset, "album", Profile(clean_descriptors=True))
    assert not [k for k in values if basic.get(k)]
    kept = deidentify(dataset, "album", Profile(retain_device_identity=True))
    assert {k: kept.get(k) for k in values} == values


@pytest.mark.parametrize("spelling", [
    "22nd of July 1958", "the 22nd of July, 1958", "22.VII.1958", "22. VII. 1958", "22-VII-1958", "1958-VII-22",
    "14.VI.2022", "22\u201307\u20131958", "1958\u201407\u201422", "2022\u201006\u201014", "22\u221207\u22121958",
    "22\u204407\u20441958", "\u0665\u0665\u0661\u0668\u0662\u0660\u0663", "\u096b\u096b\u0967\u096e\u0968\u0966\u0969"])
@pytest.mark.parametrize("options", [{"cleanDescriptors": True}, {"cleanDescriptors": True, "retainLongitudinal": True}])
def test_clean_descriptors_remove_dates_and_ids_in_roman_ordinal_typographic_and_other_digit_spellings(spelling, options):
    """Round 7, leak 5: Roman-numeral months, "22nd of July", en/em dashes, minus, fraction
    slash and the MRN in Arabic-Indic or Devanagari digits were kept."""
    copy = deidentify(_patient_1958(ImageComments=f"dob {spelling} control"), "album", Profile.from_dict(options))
    assert copy.ImageComments == "dob control"


@pytest.mark.parametrize(("text", "cleaned"), [
    ("VOS\u00adKUIJLEN head", "head"), ("VOS\u200bKUIJLEN head", "head"), ("VOS\u200dKUIJLEN head", "head"),
    ("V O S K U I J L E N head", "head"), ("V\u041eSKUIJLEN head", "head"), ("Marg\u0433it VOSKUIJL\u0415N head", "Marg\u0433it head"),
    ("\u0392\u041eSKUIJLEN-like VOSKUIJLEN head", "\u0392\u041eSKUIJLEN-like head"),
])
def test_clean_descriptors_remove_names_with_invisible_characters_spaced_letters_and_homoglyphs(text, cleaned):
    """Round 7, leak 5: a soft hyphen, zero-width space or joiner inside the name, its letters
    spaced out, a Cyrillic О in it were kept. What is kept keeps its original characters."""
    copy = deidentify(_patient_1958(ImageComments=text), "album", Profile(clean_descriptors=True))
    assert copy.ImageComments == cleaned


@pytest.mark.parametrize(("name", "text"), [("ИВАНОВ^ИВАН^ПЕТРОВИЧ", "И.П. Иванов head"),
                                            ("ΠΑΠΑΔΟΠΟΥΛΟΣ^ΝΙΚΟΣ", "Ν. Παπαδόπουλος head")])
def test_clean_descriptors_remove_cyrillic_and_greek_initials_next_to_the_name(name, text):
    """Initials next to a name component are removed in Cyrillic and Greek as in Latin (folding
    their look-alikes to Latin letters must not lose them)."""
    copy = deidentify(_patient_1958(PatientName=name, ImageComments=text), "album", Profile(clean_descriptors=True))
    assert copy.ImageComments == "head"


# ---- attack round 8 ---------------------------------------------------------------------------


@pytest.mark.parametrize(("sop_class", "modality"), [
    ("1.2.840.10008.5.1.4.1.1.2", " US"),  # a leading space is not significant in a CS value
    ("1.2.840.10008.5.1.4.1.1.6.1", "CT"),  # an ultrasound image labelled CT
    ("1.2.840.10008.5.1.4.1.1.3.1", "CT"),  # an ultrasound multi-frame image labelled CT
    ("1.2.840.10008.5.1.4.1.1.77.1.4", "CT"),  # a VL photographic image labelled CT
    ("1.2.840.10008.5.1.4.1.1.6", "CT"),  # round 9: the retired ultrasound class
    ("1.2.840.10008.5.1.1.29", "CT"),  # a hardcopy film
    ("1.2.840.10008.5.1.4.1.1.14.1", "CT"),  # intravascular OCT
    ("1.2.840.10008.5.1.4.1.1.2", "OP"),  # ophthalmic photography
    ("1.2.840.10008.5.1.4.1.1.2", ["CT", "US"]),  # any value of a multi-valued Modality
    ("1.2.840.10008.5.1.4.1.1.2", "OSS"),  # round 10: optical surface scan (a face)
    ("1.2.840.10008.5.1.4.1.1.2", "VL"),  # a retired visible-light code
    ("1.2.840.10008.5.1.4.1.1.68.1", "CT"),  # a surface scan mesh labelled CT
    ("1.2.840.10008.5.1.1.27", "CT"),  # stored print
])
def test_images_known_for_burned_in_text_are_held_whatever_their_modality_says(sop_class, modality):
    """Round 8, leak 2: " US", and ultrasound or photographs labelled CT, were copied unreviewed."""
    dataset = _patient_1958(SOPClassUID=sop_class, Modality=modality)
    assert burned_in_reason(dataset) is not None


def test_a_file_name_in_a_description_loses_its_date():
    """Round 8, leak 1: IMG_2022_06_14_001.dcm beside the shifted StudyDate gave the offset away."""
    copy = deidentify(_patient_1958(ImageComments="IMG_2022_06_14_001.dcm"), "album",
                      Profile(clean_descriptors=True, retain_longitudinal=True))
    assert "2022" not in copy.ImageComments and "14" not in copy.ImageComments


@pytest.mark.parametrize("value", [["NO", "YES"], "Y", "TRUE", "1", "ja", "", ["NO", ""]])
def test_any_burned_in_annotation_but_no_holds_the_series(value):
    """Round 9: NO\\YES, and non-standard values meaning yes, were copied unreviewed."""
    assert burned_in_reason(_patient_1958(BurnedInAnnotation=value)) is not None
    assert burned_in_reason(_patient_1958(BurnedInAnnotation="NO")) is None


def test_recognizable_visual_features_hold_the_series():
    """Round 10: RecognizableVisualFeatures YES (a face in the pixels) was copied unreviewed."""
    assert burned_in_reason(_patient_1958(RecognizableVisualFeatures="YES")) is not None
    assert burned_in_reason(_patient_1958(RecognizableVisualFeatures="NO")) is None
