"""Sample objects for the DICOMweb tests: pydicom's and pydicom-data's files, given fresh UIDs so
every test run stores new studies, and a generated series of many instances."""
from __future__ import annotations

import io

import numpy as np
import pydicom
from pydicom.data import get_charset_files, get_testdata_file
from pydicom.uid import generate_uid

# name -> what it stands for in the round trip
SAMPLES = {
    "CT_small.dcm": "native CT",
    "MR_small.dcm": "native MR, implicit character set",
    "emri_small.dcm": "multi-frame (10 frames)",
    "emri_small_RLE.dcm": "RLE Lossless, multi-frame",
    "emri_small_jpeg_2k_lossless.dcm": "JPEG 2000 Lossless, multi-frame",
    "SC_rgb_jpeg_dcmtk.dcm": "JPEG Baseline, RGB",
    "JPGLosslessP14SV1_1s_1f_8b.dcm": "JPEG Lossless SV1",
    "emri_small_jpeg_ls_lossless.dcm": "JPEG-LS Lossless (no decoder: stored and served, not rendered)",
    "test-SR.dcm": "Structured report (no pixel data)",
}
CHARSETS = ("chrH31.dcm", "chrArab.dcm", "chrGreek.dcm", "chrRuss.dcm")


def sample_path(name: str) -> str:
    if name.startswith("chr"):
        return next(p for p in get_charset_files(name))
    return get_testdata_file(name)


def renewed(dataset: pydicom.Dataset, study: str | None = None, series: str | None = None) -> pydicom.Dataset:
    """The dataset with new Study/Series/SOP Instance UIDs (kept consistent in the file meta)."""
    dataset.StudyInstanceUID = study or generate_uid()
    dataset.SeriesInstanceUID = series or generate_uid()
    dataset.SOPInstanceUID = generate_uid()
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    return dataset


def part10(dataset: pydicom.Dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def load(name: str) -> pydicom.Dataset:
    return renewed(pydicom.dcmread(sample_path(name)))


def big_series(count: int, rows: int = 1024, columns: int = 512) -> list[bytes]:
    """`count` CT instances of one new series, each with a rows x columns 16-bit frame of noise."""
    study, series = generate_uid(), generate_uid()
    generator = np.random.default_rng(5)
    out = []
    for number in range(1, count + 1):
        dataset = renewed(pydicom.dcmread(get_testdata_file("CT_small.dcm")), study, series)
        dataset.InstanceNumber = number
        dataset.Rows, dataset.Columns = rows, columns
        dataset.PixelData = generator.integers(0, 4000, size=(rows, columns), dtype=np.uint16).tobytes()
        out.append(part10(dataset))
    return out
