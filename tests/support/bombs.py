"""Decompression bombs built in memory (no large files in the repository): a Deflated Explicit VR
Little Endian object whose pixel data inflates to `pixel_bytes` of zeros, and an RLE Lossless
object whose one frame decodes to rows x columns 16-bit zeros."""
from __future__ import annotations

import struct
import zlib

import pydicom
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import DeflatedExplicitVRLittleEndian, RLELossless, generate_uid


def _fresh_ct() -> pydicom.Dataset:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    del ds.PixelData
    return ds


def deflated(pixel_bytes: int = 128 << 20, frame_side: int = 1024) -> bytes:
    """Pixel data of `pixel_bytes` zeros as 16-bit frames of frame_side²: about 130 KiB deflated."""
    ds = _fresh_ct()
    ds.Rows = ds.Columns = frame_side
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.NumberOfFrames = pixel_bytes // (frame_side * frame_side * 2)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    head = DicomBytesIO()
    head.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(head, ds.file_meta, enforce_standard=True)
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, False
    write_dataset(body, ds)
    body.write(struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, pixel_bytes))
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    out = [head.getvalue(), deflater.compress(body.getvalue())]
    zeros = bytes(1 << 20)
    for _ in range(pixel_bytes >> 20):
        out.append(deflater.compress(zeros))
    out.append(deflater.flush())
    return b"".join(out)


def rle(side: int = 8192) -> bytes:
    """One side x side 16-bit RLE frame of zeros: two segments of 128-byte runs, ~1 MiB each."""
    ds = _fresh_ct()
    ds.Rows = ds.Columns = side
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.SamplesPerPixel = 16, 16, 15, 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    segment = bytes([0x81, 0]) * (side * side // 128)
    header = struct.pack("<16I", 2, 64, 64 + len(segment), *([0] * 13))
    ds.PixelData = encapsulate([header + segment + segment])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = RLELossless
    buffer = DicomBytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
