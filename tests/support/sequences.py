"""Part-10 objects with a sequence of defined length whose item declares more bytes than the
sequence holds (the outside check of round 17), built by hand: pydicom writes sequences and items
of undefined length. `overrun=0` gives the same object well formed."""
from __future__ import annotations

import struct

import pydicom
from pydicom.data import get_testdata_file
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import generate_uid

PROCEDURE_CODE_SEQUENCE = 0x00081032  # SQ; after it, at the top level, the patient's name and ID


def _element(tag: int, vr: bytes, value: bytes) -> bytes:
    return struct.pack("<HH", tag >> 16, tag & 0xFFFF) + vr + struct.pack("<H", len(value)) + value


def _sequence(tag: int, item_content: bytes, overrun: int) -> bytes:
    item = struct.pack("<HHL", 0xFFFE, 0xE000, len(item_content) + overrun) + item_content
    return struct.pack("<HH", tag >> 16, tag & 0xFFFF) + b"SQ\x00\x00" + struct.pack("<L", len(item)) + item


def with_sequence_item(overrun: int, *, nested: bool = False) -> bytes:
    """CT_small (new UIDs, no pixel data) with a ProcedureCodeSequence of one item whose declared
    length is `overrun` bytes past the sequence's end; `nested`: that sequence inside the item of
    another one (ReferencedPerformedProcedureStepSequence's item)."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    del ds.PixelData
    before, after = pydicom.Dataset(), pydicom.Dataset()
    for element in ds:
        (before if element.tag < PROCEDURE_CODE_SEQUENCE else after).add(element)
    code = _element(0x00080100, b"SH", b"CODE01") + _element(0x00080102, b"SH", b"LOCAL ")
    sequence = _sequence(PROCEDURE_CODE_SEQUENCE, code, overrun)
    if nested:  # (0008,1111) comes after (0008,1032): the nested sequence sits in its item
        sequence = _sequence(PROCEDURE_CODE_SEQUENCE, code, 0) + _sequence(0x00081111, _sequence(
            PROCEDURE_CODE_SEQUENCE, code, overrun), 0)
        after = pydicom.Dataset({e.tag: e for e in after if e.tag != 0x00081111})
    buffer = DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, False
    buffer.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(buffer, ds.file_meta, enforce_standard=True)
    write_dataset(buffer, before)
    buffer.write(sequence)
    write_dataset(buffer, after)
    return buffer.getvalue()
