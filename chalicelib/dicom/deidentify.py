"""De-identification of one instance for a research album (docs/research-albums.md): the DICOM
PS3.15 Basic Application Level Confidentiality Profile, with the options a research album chose.

Two libraries do the work, neither table is written here:
- the attributes and their actions (D, Z, X, U, X/Z, ...) are PS3.15 Table E.1-1 as
  `dicom-anonymizer` ships it (generated from the standard, edition 2026c), applied at every
  nesting level with that library's own replace/empty functions;
- `dicognito`, seeded with the album's secret, gives what must stay consistent across instances
  and across calls: patient pseudonyms (PatientID, every person name), shifted dates (the
  longitudinal option), and the remaining identifiers. UIDs are remapped by `copy_uid` (keyed
  with the album's secret), which keeps a UID already minted for the album: an object made from
  the album's copies (a report's SR) keeps its references when it enters the album in turn.

Before the table: standard attributes sent with another VR (OB, UN...) are read with the
dictionary's (removed if they cannot be), undefined public elements removed. Beyond the table:
sequences it removes in part (X/Z, X/D, X/Z/D) and identifying sequences it does not list (issuers,
staff identification) go whole, as do retired text attributes and a few identifying attributes it
does not list (the birth date in another calendar); document titles and content labels are removed
or, under Clean Descriptors, cleaned. Free text the table does not name is dealt with here too: the text of SR content items (Content
Sequence is a D row of the table: the tree, codes, numbers and references are kept, the text is
replaced; a TextValue anywhere too), overlay descriptions and labels, addresses (every UR
attribute) and the File Meta Information, rebuilt from scratch.
Under Clean Descriptors, descriptions and that text keep what is left once every identifier of
the original is removed (`dicom.deid_text`). A safety net after the profile reads every text value
left: original UIDs in it become the copy's, and under Clean Descriptors it is cleaned too.

Pure: no AWS, no HTTP."""
from __future__ import annotations

import functools
import hashlib
import hmac
import re

import pydicom
from dicognito.anonymizer import Anonymizer
from dicognito.element_anonymizer import ElementAnonymizer
from dicomanonymizer.dicom_anonymization_databases import dicomfields_2026c as table_e1_1
from dicomanonymizer.simpledicomanonymizer import empty_element, replace_element
from pydicom.charset import convert_encodings
from pydicom.datadict import get_entry, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence

from chalicelib.dicom.deid_profile import DESCRIPTORS, OPTION_FIELDS, Profile  # noqa: F401 (re-exported)
from chalicelib.dicom.deid_text import Identifiers

# Never retained: a birth date identifies whatever the options say.
BIRTH = ("PatientBirthDate", "PatientBirthTime")

# Sequences the table removes or empties that carry the references between objects (an SR's
# evidence, a presentation state's images): cleaned item by item instead, so references resolve.
REFERENCE_SEQUENCES = ("ReferencedImageSequence", "SourceImageSequence", "ReferencedStudySequence",
                       "ReferencedPerformedProcedureStepSequence", "ContentSequence")

# Sequences the table may remove (X, X/D, Z/D, X/Z/D, most conservatively: removed; X/Z ones are
# emptied) and the identifying sequences the table does not list (issuers of IDs, staff
# identification): their items (a site's or a person's code value and meaning, an issuer) go whole.
_REMOVED_SEQUENCE_CATEGORIES = ("X_TAGS", "X_D_TAGS", "Z_D_TAGS", "X_Z_D_TAGS")
IDENTIFYING_SEQUENCES = ("PersonIdentificationCodeSequence", "IssuerOfPatientIDQualifiersSequence",
                         "IssuerOfAccessionNumberSequence", "RequestingPhysicianIdentificationSequence",
                         "HumanPerformerCodeSequence", "AsserterIdentificationSequence",
                         "AuthorIdentificationSequence", "SourcePatientGroupIdentificationSequence",
                         "GroupOfPatientsIdentificationSequence", "OrderPlacerIdentifierSequence",
                         "OrderFillerIdentifierSequence", "AssigningFacilitySequence")

# Attributes the table does not list that identify all the same: removed, or under Clean
# Descriptors (the titles and labels) cleaned like the descriptions.
UNLISTED_IDENTIFYING = ("PatientBirthDateInAlternativeCalendar", "PatientDeathDateInAlternativeCalendar",
                        "PatientAlternativeCalendar", "ContactDisplayName", "HangingProtocolCreator")
# The device's identity the table does not list: emptied unless the album retains device identity
# (RadiationMachineName is Type 2 in an RT plan's beams: emptied, not removed).
UNLISTED_DEVICE_IDENTITY = ("DeviceID", "NTPSourceAddress", "RadiationMachineName")
TITLES = ("DocumentTitle", "ContentDescription", "ContentLabel")
# Addresses (VR UR: RetrieveURL, RetrieveURI, StorageURL, ...) name the sending PACS and carry the
# original UIDs in their paths: removed at every level, in every profile.
ADDRESS_VR = "UR"
# Retired attributes of these VRs are removed (free text nobody reads any more).
TEXT_VRS = ("LO", "SH", "LT", "ST", "UT", "UC", "PN", "CS", "AE", "UR")
# Binary VRs a sender may put on any standard attribute: re-read with the dictionary's VR.
BINARY_VRS = ("OB", "OW", "OD", "OF", "OL", "OV", "UN")
# VRs a value sent with another (non-binary) VR is given again as it is.
VALUE_VRS = (*TEXT_VRS, "UI", "DA", "DT", "TM", "DS", "IS", "AS", "US", "SS", "UL", "SL", "FL", "FD", "UV", "SV")

DATE_VRS = ("DA", "DT", "TM")
# The dummy dates of action D: dicom-anonymizer's (00010101) are not valid DA values (dciodvfy).
DUMMY_DATES = {"DA": "19000101", "DT": "19000101000000", "TM": "000000"}
PSEUDONYMIZED_VRS = ("PN", "UI")  # replaced consistently by dicognito / `copy_uid`, never emptied

# Free text of content items (SR, acquisition context, ...): replaced by this unless cleaned.
FREE_TEXT_VRS = ("UT", "LT", "ST", "UC", "LO", "SH")
REMOVED_TEXT = "REMOVED"
VALUE_TYPE = 0x0040A040
TEXT_VALUE = 0x0040A160
OVERLAY_TEXT_ELEMENTS = (0x0022, 0x1500)  # Overlay Description, Overlay Label (60xx groups)

# The File Meta Information of every copy (PS3.10 7.1): Obelisk's implementation, nothing of the sender's.
IMPLEMENTATION_CLASS_UID = "2.25.212468401677795060081820973807250635474"
IMPLEMENTATION_VERSION_NAME = "OBELISK"


# ---- the table --------------------------------------------------------------------------------

_CATEGORIES = {"D_TAGS": "D", "Z_TAGS": "Z", "X_TAGS": "X", "U_TAGS": "U", "Z_D_TAGS": "D", "X_Z_TAGS": "Z",
               "X_D_TAGS": "D", "X_Z_D_TAGS": "D", "X_Z_U_STAR_TAGS": "U"}


def _table() -> tuple[dict[int, str], list[tuple[int, int, int, int, str]]]:
    """Table E.1-1 as {tag: action} and masked (repeating-group) rows. Each compound action is
    taken at its most conservative that keeps the IOD valid: X/Z as Z, X/D and X/Z/D as D."""
    exact: dict[int, str] = {}
    masked = []
    for name, action in _CATEGORIES.items():
        for row in getattr(table_e1_1, name):
            if len(row) == 2:
                exact[(row[0] << 16) | row[1]] = action
            else:
                masked.append((row[0], row[1], row[2], row[3], action))
    return exact, masked


_EXACT, _MASKED = _table()


def _removed_sequences() -> set[int]:
    tags = {(row[0] << 16) | row[1] for name in _REMOVED_SEQUENCE_CATEGORIES
            for row in getattr(table_e1_1, name) if len(row) == 2}
    return tags | {tag_for_keyword(keyword) for keyword in IDENTIFYING_SEQUENCES}


_REMOVED_SEQUENCES = _removed_sequences()


def table_action(tag: int) -> str | None:
    """The profile's action for a tag (D, Z, X or U), None when the profile keeps it."""
    if tag in _EXACT:
        return _EXACT[tag]
    group, element = tag >> 16, tag & 0xFFFF
    for g, e, gmask, emask, action in _MASKED:
        if group & gmask == g & gmask and element & emask == e & emask:
            return action
    return None


def profile_tags() -> dict[int, str]:
    """Every single tag the profile removes or replaces, with its action (tests plant values there)."""
    return dict(_EXACT)


# ---- UIDs -------------------------------------------------------------------------------------

_TAG_BITS = 24


def _mac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def copy_uid(secret: str, uid: str) -> str:
    """The album's UID for `uid`: `2.25.` and a 120-bit number, 96 bits of HMAC of the original
    and 24 bits that mark it as this album's (so `is_copy_uid` recognizes it and keeps it)."""
    if is_copy_uid(secret, uid):
        return uid
    body = int.from_bytes(_mac(secret, b"uid:" + uid.encode())[:12], "big")
    return f"2.25.{(body << _TAG_BITS) | _uid_tag(secret, body)}"


def _uid_tag(secret: str, body: int) -> int:
    return int.from_bytes(_mac(secret, b"tag:" + str(body).encode())[:3], "big")


def is_copy_uid(secret: str, uid: str) -> bool:
    if not uid.startswith("2.25.") or not uid[5:].isdigit():
        return False
    number = int(uid[5:])
    body, tag = number >> _TAG_BITS, number & ((1 << _TAG_BITS) - 1)
    return body < (1 << 96) and hmac.compare_digest(tag.to_bytes(3, "big"), _uid_tag(secret, body).to_bytes(3, "big"))


def _is_instance_uid(element) -> bool:
    keyword = keyword_for_tag(element.tag) or ""
    if element.VR == "UI" and table_action(int(element.tag)) == "U":  # ManufacturerDeviceClassUID too
        return bool(element.value)
    return element.VR == "UI" and bool(element.value) and not keyword.endswith("ClassUID") \
        and keyword not in ("TransferSyntaxUID", "ImplementationClassUID", "CodingSchemeUID")


class _AlbumUIDs(ElementAnonymizer):
    """Every instance UID (not SOP class, transfer syntax or coding scheme UIDs) to the album's."""

    def __init__(self, secret: str, kept: set[int]):
        self._secret, self._kept = secret, kept

    def __call__(self, dataset, data_element) -> bool:
        if data_element.VR != "UI":
            return False
        if data_element.tag in self._kept or not _is_instance_uid(data_element):
            return True
        values = data_element.value if isinstance(data_element.value, pydicom.multival.MultiValue) else [data_element.value]
        mapped = [copy_uid(self._secret, str(v)) for v in values]
        data_element.value = mapped if len(mapped) > 1 else mapped[0]
        return True

    def describe_actions(self):
        yield "Replace instance UIDs with the album's (HMAC of the original)"


def date_offset_hours(secret: str) -> int:
    """The album's date shift, in hours, as dicognito seeded with the album's secret applies it
    (measured on a probe, so it is dicognito's own whatever its version computes)."""
    return _offset_hours(secret)


@functools.lru_cache(maxsize=256)
def _offset_hours(secret: str) -> int:
    import datetime

    probe = Dataset()
    probe.file_meta = FileMetaDataset()
    probe.StudyDate, probe.StudyTime = "20000101", "000000"
    Anonymizer(seed=secret).anonymize(probe)
    shifted = datetime.datetime.strptime(probe.StudyDate + probe.StudyTime[:2], "%Y%m%d%H")
    return int((shifted - datetime.datetime(2000, 1, 1)).total_seconds() // 3600)


class _LoneTimes(ElementAnonymizer):
    """Shifts the times dicognito leaves (it moves a TM only with its DA of the same name): an SR
    TIME item, a time without its date; by the album's offset, wrapped to the time of day, as
    the time part of a shifted DA/TM pair or DT moves."""

    def __init__(self, offset_hours: int):
        self._offset = offset_hours

    def __call__(self, dataset, data_element) -> bool:
        if data_element.VR != "TM" or _paired_with_date(dataset, data_element):
            return False
        values = data_element.value if isinstance(data_element.value, pydicom.multival.MultiValue) else [data_element.value]
        shifted = [_shifted_time(str(v or ""), self._offset) for v in values]
        data_element.value = shifted if len(shifted) > 1 else shifted[0]
        return True

    def describe_actions(self):
        yield "Shift times without their date by the album's offset"


def _paired_with_date(dataset, data_element) -> bool:
    """Whether dicognito shifts this TM with its date (`XDate` next to `XTime`, the date given)."""
    keyword = data_element.keyword or ""
    date = keyword.replace("Time", "Date")
    return date != keyword and date.replace("Date", "Time") == keyword and bool(dataset.get(date, None))


def _shifted_time(value: str, offset_hours: int) -> str:
    text = value.replace(":", "")
    if len(text) < 2 or not text[:2].isdigit():
        return value
    return f"{(int(text[:2]) + offset_hours) % 24:02d}{text[2:]}"


class _Keep(ElementAnonymizer):
    """Keeps the elements an option retains, and (without the longitudinal option) the dates the
    table pass already dealt with."""

    def __init__(self, tags: set[int], keep_dates: bool):
        self._tags, self._keep_dates = tags, keep_dates

    def __call__(self, dataset, data_element) -> bool:
        return data_element.tag in self._tags or (self._keep_dates and data_element.VR in DATE_VRS)

    def describe_actions(self):
        yield "Keep the attributes the album's options retain"


# ---- the pass ---------------------------------------------------------------------------------


def deidentify(dataset: Dataset, secret: str, profile: Profile) -> Dataset:
    """The de-identified copy of `dataset` (which is left as it was) for the album whose secret
    is `secret`. Private attributes are removed; what stays is listed in docs/research-albums.md."""
    copy = _copied(dataset)
    retained = {tag_for_keyword(k) for k in profile.retained_keywords()} - {None}
    copy.remove_private_tags()
    _dictionary_vrs(copy, _encodings(copy))
    identifiers = _identifiers(copy) if profile.clean_descriptors else None
    originals = _original_uids(copy, retained)
    _unlisted(copy, profile)
    _apply_table(copy, retained, profile)
    _free_text(copy, identifiers)
    anonymizer = Anonymizer(seed=secret)
    anonymizer.add_element_handler(_AlbumUIDs(secret, retained))
    anonymizer.add_element_handler(_Keep(retained, keep_dates=not profile.retain_longitudinal))
    if profile.retain_longitudinal:
        anonymizer.add_element_handler(_LoneTimes(date_offset_hours(secret)))
    anonymizer.anonymize(copy)
    if identifiers is not None:
        _clean_descriptors(copy, identifiers)
    _safety_net(copy, {uid: copy_uid(secret, uid) for uid in originals}, identifiers)
    copy.PatientIdentityRemoved = "YES"
    copy.DeidentificationMethod = "PS3.15 E.1 Basic Profile (Obelisk research album)"
    copy.file_meta = _file_meta(copy, dataset)
    return copy


def _file_meta(copy: Dataset, original: Dataset) -> FileMetaDataset:
    """File Meta Information made anew (PS3.10 7.1): the copy's SOP class and instance, the
    original's transfer syntax (the pixels are copied as they are), Obelisk's implementation. The
    sender's AE titles and private information stay behind."""
    meta = FileMetaDataset()
    meta.FileMetaInformationVersion = b"\x00\x01"
    meta.MediaStorageSOPClassUID = copy.SOPClassUID
    meta.MediaStorageSOPInstanceUID = copy.SOPInstanceUID
    syntax = getattr(original, "file_meta", FileMetaDataset()).get("TransferSyntaxUID")
    if syntax:
        meta.TransferSyntaxUID = syntax
    meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    return meta


def _copied(dataset: Dataset) -> Dataset:
    import copy as copying

    return copying.deepcopy(dataset)


def _encodings(dataset: Dataset) -> list[str]:
    return convert_encodings(dataset.get("SpecificCharacterSet") or "ISO_IR 6")


def _dictionary_vrs(dataset: Dataset, encodings: list[str]) -> None:
    """Before the profile, at every level: standard attributes sent with another VR (OB, UN, LO
    for a UI...) read with the dictionary's VR, or removed when they cannot be (no standard
    attribute's bytes pass unread); undefined public elements removed."""
    for element in list(dataset):
        tag = int(element.tag)
        try:
            vr = get_entry(tag)[0]
        except KeyError:
            del dataset[tag]  # undefined public element (or group length)
            continue
        if element.VR not in vr.split(" or "):
            element = _reread(dataset, element, vr, encodings)
        if element is not None and element.VR == "SQ":
            for item in element.value or []:
                _dictionary_vrs(item, encodings)


def _unlisted(dataset: Dataset, profile: Profile) -> None:
    """What the table does not list, at every level: retired text attributes, addresses (UR) and
    `UNLISTED_IDENTIFYING` removed; `TITLES` removed unless Clean Descriptors cleans them;
    `UNLISTED_DEVICE_IDENTITY` emptied unless the album retains device identity."""
    for element in list(dataset):
        vr, _, _, retired, keyword = get_entry(int(element.tag))
        if (retired and element.VR in TEXT_VRS) or ADDRESS_VR in (vr, element.VR) or keyword in UNLISTED_IDENTIFYING \
                or (keyword in TITLES and not profile.clean_descriptors):
            del dataset[element.tag]
        elif keyword in UNLISTED_DEVICE_IDENTITY and not profile.retain_device_identity:
            element.value = ""
        elif element.VR == "SQ":
            for item in element.value or []:
                _unlisted(item, profile)


def _reread(dataset: Dataset, element, vr: str, encodings: list[str]):
    """`element` with the dictionary's `vr` in `dataset`, or None (and removed) if it cannot be."""
    tag = int(element.tag)
    value = element.value
    try:
        if isinstance(value, bytes) and element.VR in BINARY_VRS and " " not in vr:
            raw = RawDataElement(element.tag, vr, len(value), value, 0, False, True, True, False)
            dataset[tag] = convert_raw_data_element(raw, encoding=encodings)
            return dataset[tag]
        if not isinstance(value, bytes) and vr in VALUE_VRS:  # a UID sent as LO, a DS as IS...
            dataset[tag] = pydicom.DataElement(tag, vr, value)
            return dataset[tag]
    except Exception:  # noqa: BLE001 - what cannot be read is not copied
        pass
    del dataset[tag]
    return None


def _apply_table(dataset: Dataset, retained: set[int], profile: Profile) -> None:
    """Table E.1-1 at every nesting level, on what dicognito does not replace consistently."""
    for element in list(dataset):
        tag = int(element.tag)
        if tag in retained:
            continue
        action = table_action(tag)
        keyword = keyword_for_tag(tag) or ""
        if element.VR == "SQ":
            _sequence(dataset, element, action, keyword, retained, profile)
            continue
        if action in (None, "U") or element.VR in PSEUDONYMIZED_VRS or keyword == "PatientID":
            continue
        if element.VR in DATE_VRS and profile.retain_longitudinal and keyword not in BIRTH:
            continue  # shifted by dicognito
        if action == "X":
            del dataset[tag]
        elif action == "Z":
            empty_element(element)
            if element.VR in DATE_VRS:
                element.value = ""
        elif element.VR in DATE_VRS:
            element.value = DUMMY_DATES[element.VR]
        else:
            replace_element(element)


def _sequence(dataset: Dataset, element, action: str | None, keyword: str, retained: set[int],
              profile: Profile) -> None:
    if keyword in REFERENCE_SEQUENCES or (action in (None, "U", "D") and int(element.tag) not in _REMOVED_SEQUENCES):
        for item in element.value or []:
            _apply_table(item, retained, profile)
    elif action == "X" or int(element.tag) in _REMOVED_SEQUENCES:
        del dataset[element.tag]
    else:  # Z
        element.value = Sequence()


def _identifiers(dataset: Dataset) -> Identifiers:
    """Values that name the patient or the visit, to strip from retained descriptions and text."""
    return Identifiers(dataset, lambda tag: table_action(tag) is not None, frozenset(DESCRIPTORS))


def _free_text(dataset: Dataset, identifiers: Identifiers | None) -> None:
    """Free text the table does not name: of content items (at every level: an SR's TEXT items,
    acquisition context), replaced by `REMOVED_TEXT`, and overlays' descriptions and labels,
    removed; under Clean Descriptors (`identifiers` given) both keep their cleaned text."""
    for element in list(dataset):
        if element.tag.group & 0xFF01 == 0x6000 and element.tag.element in OVERLAY_TEXT_ELEMENTS:
            if identifiers is None:
                del dataset[element.tag]
            else:
                _clean_element(element, identifiers)
    _content_text(dataset, identifiers, in_content_item=False)  # an SR's root: its document, not an item


def _content_text(dataset: Dataset, identifiers: Identifiers | None, in_content_item: bool) -> None:
    for element in dataset:
        if element.VR == "SQ":
            for item in element.value or []:
                _content_text(item, identifiers, in_content_item=VALUE_TYPE in item
                              or keyword_for_tag(element.tag) == "ContentSequence")
        elif element.tag == TEXT_VALUE or (in_content_item and element.VR in FREE_TEXT_VRS):
            _free_text_value(element, identifiers)  # a TextValue anywhere (an SR root, an image's item too)


def _free_text_value(element, identifiers: Identifiers | None) -> None:
    """A content item's text: `REMOVED_TEXT`, or under Clean Descriptors what is left of it."""
    if element.value in (None, ""):
        return
    if identifiers is None:
        element.value = REMOVED_TEXT
    else:
        _clean_element(element, identifiers)
        if element.value in (None, ""):
            element.value = REMOVED_TEXT


def _clean_element(element, identifiers: Identifiers) -> None:
    if isinstance(element.value, pydicom.multival.MultiValue):
        element.value = [identifiers.clean(str(v)) for v in element.value]
    elif isinstance(element.value, str):
        element.value = identifiers.clean(element.value)


def _clean_descriptors(dataset: Dataset, identifiers: Identifiers) -> None:
    """The Clean Descriptors option: the retained descriptions, at every nesting level, lose every
    identifying value found in the original (`dicom.deid_text`)."""
    for element in dataset:
        if element.VR == "SQ":
            for item in element.value or []:
                _clean_descriptors(item, identifiers)
        elif element.keyword in DESCRIPTORS or element.keyword in TITLES:
            _clean_element(element, identifiers)


# ---- the safety net ---------------------------------------------------------------------------

# Text VRs the safety net reads (codes, UIDs and AE titles are too short or too constrained to
# carry a UID or a name; dates and numbers carry neither).
NET_VRS = ("LO", "SH", "LT", "ST", "UT", "UC", "PN")
NAMES_VR = "PN"  # already pseudonyms: not cleaned of the original's identity values
# Codes (a coding scheme named after the site is not the patient): their UIDs replaced, not cleaned.
CODE_KEYWORDS = ("CodeValue", "CodingSchemeDesignator", "CodingSchemeVersion", "LongCodeValue",
                 "MappingResource", "ContextIdentifier", "ContextGroupExtensionCreatorUID")


def _original_uids(dataset: Dataset, retained: set[int]) -> set[str]:
    """Every instance UID of the original, at every level (the ones the profile replaces)."""
    uids = set()
    for element in dataset.iterall():
        if int(element.tag) not in retained and _is_instance_uid(element):
            values = element.value if isinstance(element.value, pydicom.multival.MultiValue) else [element.value]
            uids.update(str(v).strip() for v in values if str(v).strip())
    return uids


def _safety_net(dataset: Dataset, uids: dict[str, str], identifiers: Identifiers | None) -> None:
    """After the profile, in every profile: every remaining text value, at every level, has the
    original's UIDs written in it replaced by the album's copy UIDs, and under Clean Descriptors
    (`identifiers` given) loses every identity value of the original too."""
    pattern = _uid_pattern(uids)
    for element in dataset.iterall():
        if element.VR not in NET_VRS or element.value in (None, ""):
            continue
        values = element.value if isinstance(element.value, pydicom.multival.MultiValue) else [element.value]
        cleaning = identifiers if element.VR != NAMES_VR and element.keyword not in CODE_KEYWORDS else None
        cleaned = [_netted(str(v), pattern, uids, cleaning) for v in values]
        if cleaned != [str(v) for v in values]:
            element.value = cleaned if len(cleaned) > 1 else cleaned[0]


def _uid_pattern(uids: dict[str, str]) -> re.Pattern | None:
    if not uids:
        return None
    alternatives = "|".join(map(re.escape, sorted(uids, key=len, reverse=True)))
    return re.compile(rf"(?<![\d.])(?:{alternatives})(?!\.?\d)")


def _netted(text: str, pattern: re.Pattern | None, uids: dict[str, str], identifiers: Identifiers | None) -> str:
    if pattern is not None:
        text = pattern.sub(lambda match: uids[match.group(0)], text)
    cleaned = identifiers.clean(text) if identifiers is not None else text
    return cleaned if cleaned or not text else REMOVED_TEXT  # a value a module requires stays one


# ---- held series ------------------------------------------------------------------------------

SECONDARY_CAPTURE_CLASSES = frozenset({
    "1.2.840.10008.5.1.4.1.1.7", "1.2.840.10008.5.1.4.1.1.7.1", "1.2.840.10008.5.1.4.1.1.7.2",
    "1.2.840.10008.5.1.4.1.1.7.3", "1.2.840.10008.5.1.4.1.1.7.4",
})
# Ultrasound and visible-light (endoscopy, microscopy, photography) images, whatever their Modality says
PHOTOGRAPHIC_CLASS_PREFIXES = ("1.2.840.10008.5.1.4.1.1.3.", "1.2.840.10008.5.1.4.1.1.6.",
                               "1.2.840.10008.5.1.4.1.1.77.", "1.2.840.10008.5.1.4.1.1.14.")  # 14: IVOCT
# Other classes whose pixels may show the patient's details or face: retired ultrasound, hardcopy
# films, X-ray 3D craniofacial
PICTURE_CLASSES = frozenset({"1.2.840.10008.5.1.4.1.1.3", "1.2.840.10008.5.1.4.1.1.6",
                             "1.2.840.10008.5.1.1.27", "1.2.840.10008.5.1.1.29", "1.2.840.10008.5.1.1.30",
                             "1.2.840.10008.5.1.4.1.1.13.1.2", "1.2.840.10008.5.1.4.1.1.68.1",
                             "1.2.840.10008.5.1.4.1.1.68.2"})  # 68: surface scans (faces)
# Ultrasound, photographs and other visible light, surface and face scans, documents and films,
# current and retired codes (PS3.3 C.7.3.1.1.1)
BURNED_IN_MODALITIES = frozenset({"US", "IVUS", "BDUS", "EC", "CD", "DD", "XC", "OP", "OPT", "OPM", "OPV", "OAM",
                                  "SM", "GM", "ES", "VL", "CP", "CS", "LP", "FA", "DM", "OSS", "M3D", "PX", "TG", "DG",
                                  "OT", "SC", "DOC", "HC"})


def burned_in_reason(dataset: Dataset) -> str | None:
    """Why the instance may carry identifiers or a face in its pixels (then its series waits for an
    album admin): BurnedInAnnotation or RecognizableVisualFeatures present and not NO, a modality
    known for it (ultrasound, photographs, surface scans, documents, films; any value of a
    multi-valued Modality), a secondary capture, or an ultrasound / visible-light / hardcopy class
    whatever its Modality says. None when none applies."""
    for keyword in ("BurnedInAnnotation", "RecognizableVisualFeatures"):
        values = [value.strip().upper() for value in _text_values(dataset.get(keyword))] or [""]
        if keyword in dataset and set(values) != {"NO"}:
            shown = "\\".join(values) or "(empty)"
            return f"{keyword} {shown}"
    sop_class = str(dataset.get("SOPClassUID", "")).strip()
    if sop_class in SECONDARY_CAPTURE_CLASSES:
        return "secondary capture"
    modalities = {value.strip().upper() for value in _text_values(dataset.get("Modality"))} & BURNED_IN_MODALITIES
    if modalities:
        return "modality " + "/".join(sorted(modalities))
    if sop_class.startswith(PHOTOGRAPHIC_CLASS_PREFIXES) or sop_class in PICTURE_CLASSES:
        return "ultrasound, visible-light or hardcopy SOP class"
    return None


def _text_values(value) -> list[str]:
    """An attribute's values as strings (none when absent)."""
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, pydicom.multival.MultiValue) else [str(value)]
