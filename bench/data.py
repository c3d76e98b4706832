"""Synthetic CT studies with pydicom: 512x512 16-bit MONOCHROME2 slices, explicit VR little endian,
uncompressed, random-ish pixels and realistic patient/study attributes."""
from __future__ import annotations

import io
import random
import uuid
from dataclasses import dataclass, field

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

FIRST = ("Anna", "Ben", "Clara", "David", "Eva", "Felix", "Greta", "Hugo", "Ines", "Jonas")
LAST = ("Martin", "Dubois", "Peeters", "Jansen", "Muller", "Rossi", "Novak", "Garcia", "Smith", "Larsen")
DESCRIPTIONS = ("CT THORAX", "CT ABDOMEN PELVIS", "CT HEAD W/O CONTRAST", "CT CHEST ANGIO", "CT SPINE")
SERIES = ("Axial 1.0mm", "Axial 5.0mm", "Coronal MPR", "Sagittal MPR", "Scout")


@dataclass
class Study:
    uid: str
    series: dict[str, list[bytes]] = field(default_factory=dict)  # series UID -> Part-10 files

    def instances(self) -> list[bytes]:
        return [f for files in self.series.values() for f in files]


def _pixels(rng: np.random.Generator, size: int, z: int) -> bytes:
    """A body-like disc with noise and a slice-dependent blob: compresses like real CT, not like zeros."""
    y, x = np.ogrid[:size, :size]
    r = np.hypot(x - size / 2, y - size / 2)
    image = np.where(r < size * 0.42, 1040, 24).astype(np.int32)
    image += ((r < size * (0.08 + 0.002 * (z % 20))) * 300).astype(np.int32)
    image += rng.integers(0, 60, size=(size, size), dtype=np.int32)
    return image.astype(np.uint16).tobytes()


def _patient(rng: random.Random) -> dict:
    return {"PatientName": f"{rng.choice(LAST)}^{rng.choice(FIRST)}", "PatientID": f"PAT{rng.randrange(10**7):07d}",
            "PatientBirthDate": f"{rng.randrange(1935, 2010)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}",
            "PatientSex": rng.choice("MF")}


def instance(study: Dataset, series_uid: str, series_number: int, z: int, size: int,
             rng: np.random.Generator) -> bytes:
    ds = Dataset()
    ds.update(study)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.SeriesInstanceUID, ds.SeriesNumber, ds.InstanceNumber = series_uid, series_number, z + 1
    ds.SeriesDescription = SERIES[(series_number - 1) % len(SERIES)]
    ds.Modality, ds.ImageType = "CT", ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.ImagePositionPatient = [-250.0, -250.0, -float(z)]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.SliceThickness, ds.PixelSpacing = 1.0, [0.9765625, 0.9765625]
    ds.KVP, ds.RescaleIntercept, ds.RescaleSlope = 120, -1024, 1
    ds.WindowCenter, ds.WindowWidth = 40, 400
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows = ds.Columns = size
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = _pixels(rng, size, z)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def study_header(rng: random.Random) -> Dataset:
    ds = Dataset()
    for key, value in _patient(rng).items():
        setattr(ds, key, value)
    ds.StudyInstanceUID = generate_uid()
    ds.StudyDate = f"20{rng.randrange(15, 25)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
    ds.StudyTime = f"{rng.randrange(7, 19):02d}{rng.randrange(60):02d}00"
    ds.AccessionNumber = f"ACC{uuid.uuid4().hex[:10].upper()}"
    ds.StudyID = str(rng.randrange(1, 9999))
    ds.StudyDescription = rng.choice(DESCRIPTIONS)
    ds.ReferringPhysicianName = f"{rng.choice(LAST)}^{rng.choice(FIRST)}"
    ds.Manufacturer, ds.InstitutionName = "BenchCT", "Obelisk Bench Hospital"
    return ds


def ct_study(slices_per_series: list[int], size: int = 512, seed: int = 0) -> Study:
    """One CT study; `slices_per_series[i]` slices in series i+1."""
    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    header = study_header(rng)
    study = Study(header.StudyInstanceUID)
    for number, count in enumerate(slices_per_series, start=1):
        uid = generate_uid()
        study.series[uid] = [instance(header, uid, number, z, size, nrng) for z in range(count)]
    return study


def tiny_studies(count: int, seed: int) -> list[bytes]:
    """`count` one-instance 16x16 CT studies: the QIDO population (list cost, not bytes)."""
    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    out = []
    for _ in range(count):
        header = study_header(rng)
        out.append(instance(header, generate_uid(), 1, 0, 16, nrng))
    return out
