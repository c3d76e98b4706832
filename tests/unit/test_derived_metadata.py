"""The instance's metadata document is derived (chalicelib/services/renditions.py): converted from
its skeleton, with zeros standing in for the frames, it is the document STOW converted and used to
write (`parsed.parse(...).document`), for every transfer syntax, deflated, multi-frame, pixel-less,
tiny and coerced instances, and any corrupted file STOW accepts; it costs one GET of the skeleton (the frames too only for pixel data
small enough to be given inline); an instance stored whole before skeletons is converted from its
file; a permanent document written before is never read. Nothing here talks to AWS: the store is
a dict."""
from __future__ import annotations

import io
import warnings
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from pydicom.data import get_charset_files, get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from chalicelib.dicom import json_model, skeleton
from chalicelib.services import parsed, renditions
from chalicelib.store import dicom_store
from chalicelib.store.models import InstanceRecord
from tests.unit.test_fuzzing import MUTATED_PART10
from tests.unit.test_parsed_instance import with_bulk_values

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def encoded(dataset: Dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def generated(rows: int, columns: int, bits: int, frames: int, keyword: str = "PixelData", **elements) -> bytes:
    """A native instance of `frames` frames of noise (`keyword`: Pixel Data or Float Pixel Data)."""
    dataset = Dataset()
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.file_meta.MediaStorageSOPClassUID = dataset.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    dataset.StudyInstanceUID, dataset.SeriesInstanceUID = generate_uid(), generate_uid()
    dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    dataset.Rows, dataset.Columns, dataset.BitsAllocated, dataset.SamplesPerPixel = rows, columns, bits, 1
    dataset.BitsStored, dataset.HighBit, dataset.PixelRepresentation = bits, bits - 1, 0
    dataset.PhotometricInterpretation, dataset.NumberOfFrames = "MONOCHROME2", frames
    size = (rows * columns * bits * frames + 7) // 8
    setattr(dataset, keyword, np.random.default_rng(5).integers(0, 256, size, dtype=np.uint8).tobytes())
    for name, value in elements.items():
        setattr(dataset, name, value)
    return encoded(dataset)


def sample(name: str) -> bytes:
    return open(get_testdata_file(name), "rb").read()


# name -> the Part-10 bytes STOW receives
INSTANCES = {
    "native CT": lambda: sample("CT_small.dcm"),
    "big endian MR": lambda: sample("MR_small_bigendian.dcm"),
    "implicit VR multi-frame": lambda: sample("emri_small.dcm"),
    "RLE multi-frame": lambda: sample("emri_small_RLE.dcm"),
    "JPEG 2000 multi-frame": lambda: sample("emri_small_jpeg_2k_lossless.dcm"),
    "JPEG Baseline RGB": lambda: sample("SC_rgb_jpeg_dcmtk.dcm"),
    "JPEG 2000 US": lambda: sample("US1_J2KR.dcm"),
    "RLE RGB 2 frames": lambda: sample("SC_rgb_rle_2frame.dcm"),
    "odd length pixel data": lambda: sample("SC_rgb_small_odd.dcm"),
    "structured report, no pixel data": lambda: sample("test-SR.dcm"),
    "deflated (kept whole)": lambda: sample("image_dfl.dcm"),
    "group lengths": lambda: sample("color-pl.dcm"),
    "character set": lambda: open(next(iter(get_charset_files("chrH31.dcm"))), "rb").read(),
    "bulk values, nested too": lambda: with_bulk_values("CT_small.dcm"),
    "tiny pixel data (inline)": lambda: generated(8, 8, 8, 1),
    "tiny multi-frame (inline)": lambda: generated(4, 4, 16, 3),
    "pixel data just over the inline threshold": lambda: generated(16, 16, 8, 4),
    "float pixel data": lambda: generated(16, 16, 32, 2, keyword="FloatPixelData"),
    "1-bit frames not ending on a byte (kept whole)": lambda: generated(5, 5, 1, 3),
    "empty pixel data": lambda: generated(0, 0, 8, 1),
}


def split(instance: parsed.ParsedInstance) -> tuple[list, bytes]:
    """The skeleton as stored and read back (`skeleton.encode` / `decode`)."""
    return skeleton.decode(skeleton.encode(*skeleton.split(instance.data, instance.dataset, list(instance.frames))))


def derived(instance: parsed.ParsedInstance) -> tuple[dict, bool]:
    """(the document derived from the instance's skeleton, whether its frames were read)."""
    spans, rest = split(instance)
    joined = []

    def join():
        joined.append(True)
        return skeleton.join(spans, rest, lambda number, at, length: instance.frames[number - 1][at:at + length])

    return renditions.document_from_skeleton(spans, rest, join), bool(joined)


@pytest.mark.parametrize("name", INSTANCES)
def test_the_document_derived_from_the_skeleton_is_the_one_stow_converted(name):
    instance = parsed.parse(INSTANCES[name]())
    document, _ = derived(instance)
    assert document == instance.document


def installed_test_files() -> list[Path]:
    """pydicom's test files and pydicom-data's, as installed (`get_testdata_files` would try to
    download those missing)."""
    folders = {Path(get_testdata_file(name)).parent for name in ("CT_small.dcm", "US1_J2KR.dcm")}
    return sorted(path for folder in folders for path in folder.rglob("*.dcm"))


def test_every_pydicom_test_file_that_stow_accepts_derives_the_document_stow_converted():
    accepted = 0
    for path in installed_test_files():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                instance = parsed.parse(path.read_bytes())
        except Exception:  # noqa: BLE001 - refused by STOW: nothing is stored, nothing derived
            continue
        accepted += 1
        assert derived(instance)[0] == instance.document, path
    assert accepted > 100


@settings(max_examples=300, deadline=None)
@given(MUTATED_PART10)
def test_any_object_stow_accepts_derives_the_document_stow_converted(body):
    """Truncated and corrupted files (`test_fuzzing`): whatever STOW stores, a read converts the same."""
    from chalicelib.errors import BadRequest, PayloadTooLarge

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            instance = parsed.parse(body)
        except (BadRequest, PayloadTooLarge):
            return
        assert derived(instance)[0] == instance.document


@pytest.mark.parametrize("name", ["native CT", "JPEG 2000 multi-frame", "pixel data just over the inline threshold",
                                  "structured report, no pixel data", "deflated (kept whole)"])
def test_no_frame_is_read_when_the_document_names_the_pixel_data_by_a_uri(name):
    assert derived(parsed.parse(INSTANCES[name]()))[1] is False


@pytest.mark.parametrize("name", ["tiny pixel data (inline)", "tiny multi-frame (inline)"])
def test_pixel_data_given_inline_is_read_from_the_frames(name):
    instance = parsed.parse(INSTANCES[name]())
    document, read = derived(instance)
    assert read and "InlineBinary" in document["7FE00010"] and document == instance.document


def test_a_coerced_instance_derives_what_stow_converted_and_what_the_old_conversion_gave():
    """Coercion encodes the dataset again; the document is converted from those bytes, the stored
    ones, which for a file without group lengths is what converting the changed dataset gave."""
    instance = parsed.parse(sample("CT_small.dcm"))
    instance.dataset.PatientName, instance.dataset.AccessionNumber = "Coerced^To^The^Study", "A-42"
    coerced = instance.coerced(json_model.to_json(instance.dataset))
    old = json_model.metadata(instance.dataset, parsed.canonical_instance_url(*coerced.key))
    assert derived(coerced)[0] == coerced.document == old


def test_a_coerced_instance_with_group_lengths_has_none_in_its_document():
    """Writing drops group lengths (retired; coercion would have made them wrong): the document
    holds what the stored file holds."""
    instance = parsed.parse(sample("color-pl.dcm"))
    assert "00080000" in instance.document
    instance.dataset.PatientName = "Coerced^To^The^Study"
    coerced = instance.coerced(json_model.to_json(instance.dataset))
    assert derived(coerced)[0] == coerced.document and "00080000" not in coerced.document


class Bucket:
    """The DICOM bucket as a dict, with the reads `dicom_store` makes counted."""

    def __init__(self, objects: dict[str, bytes]):
        self.objects, self.gets = dict(objects), []

    def read_if_present(self, key: str) -> bytes | None:
        self.gets.append(key)
        return self.objects.get(key)

    def read_range(self, key: str, start: int, length: int) -> bytes:
        self.gets.append(key)
        return self.objects[key][start:start + length]


def stored(name: str, *, whole: bool = False) -> tuple[InstanceRecord, parsed.ParsedInstance, Bucket]:
    """An instance's record and the bucket holding the objects STOW wrote for it (`whole`: the
    layout before skeletons, a whole Part-10 file and a permanent metadata document)."""
    instance = parsed.parse(INSTANCES[name]())
    generation = dicom_store.new_generation()
    record = InstanceRecord(*InstanceRecord.key(*instance.key), study_uid=instance.study_uid,
                            series_uid=instance.series_uid, sop_uid=instance.sop_uid, generation=generation,
                            transfer_syntax_uid=instance.transfer_syntax)
    if whole:
        objects = {dicom_store.part10_key(*instance.key, generation=generation): instance.data}
    else:
        objects = {o[0]: o[1] for o in dicom_store.instance_objects(
            *instance.key, instance.transfer_syntax, instance.data, generation=generation,
            dataset=instance.dataset, cut=instance.frames)}
    assert not any(k.endswith("metadata.json") for k in objects), "STOW writes no metadata document"
    return record, instance, Bucket(objects)


def read_document(record: InstanceRecord, bucket: Bucket) -> dict:
    with mock.patch.multiple(dicom_store, read_if_present=bucket.read_if_present, read_range=bucket.read_range):
        return renditions.instance_document(record)


@pytest.mark.parametrize("name", ["native CT", "JPEG 2000 multi-frame", "deflated (kept whole)",
                                  "structured report, no pixel data"])
def test_an_instance_s_document_costs_one_get_of_its_skeleton(name):
    record, instance, bucket = stored(name)
    assert read_document(record, bucket) == instance.document
    assert bucket.gets == [dicom_store.skeleton_key(*instance.key, generation=record.generation)]


def test_an_instance_with_inline_pixel_data_reads_its_frames_too():
    record, instance, bucket = stored("tiny multi-frame (inline)")
    assert read_document(record, bucket) == instance.document
    frame_keys = {dicom_store.frame_key(*instance.key, n, generation=record.generation) for n in (1, 2, 3)}
    assert bucket.gets[0].endswith(".parts") and set(bucket.gets[1:]) == frame_keys


def test_an_instance_stored_whole_before_skeletons_is_converted_from_its_file_and_its_old_document_is_not_read():
    record, instance, bucket = stored("native CT", whole=True)
    legacy = dicom_store.legacy_instance_metadata_key(*instance.key, generation=record.generation)
    bucket.objects[legacy] = b"not read"
    assert read_document(record, bucket) == instance.document
    assert legacy not in bucket.gets


def test_an_instance_whose_objects_are_gone_is_not_found():
    """Purged between the read of its row and of its objects: 404, as when the document was stored."""
    from chalicelib.errors import NotFound

    record, _, bucket = stored("native CT")
    bucket.objects.clear()
    with pytest.raises(NotFound):
        read_document(record, bucket)


def test_the_metadata_object_is_in_the_cache_and_the_old_one_is_not():
    names = ("1.2.3", "1.2.4", "1.2.5")
    cached = dicom_store.instance_metadata_key(*names, generation="0123456789abcdef")
    legacy = dicom_store.legacy_instance_metadata_key(*names, generation="0123456789abcdef")
    assert cached == dicom_store.cached(legacy) and legacy.endswith("/0123456789abcdef/metadata.json")
