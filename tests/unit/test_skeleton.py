"""The Part-10 file kept once (chalicelib/dicom/skeleton.py): split into its frames and a skeleton,
it is joined again byte for byte, for native, encapsulated (several fragments per frame too),
multi-frame and pixel-less files; a file whose frames cannot be found again is kept whole. The
object names of the store-once layout keep their generation (a purge takes the cached ones too)."""
from __future__ import annotations

import io
from unittest import mock

import pydicom
import pytest
from pydicom.data import get_testdata_file

from chalicelib.dicom import frames, skeleton
from chalicelib.store import dicom_store

FILES = ["CT_small.dcm", "MR_small_bigendian.dcm", "emri_small.dcm", "emri_small_RLE.dcm",
         "emri_small_jpeg_2k_lossless.dcm", "SC_rgb_jpeg_dcmtk.dcm", "US1_J2KR.dcm", "SC_rgb_rle_2frame.dcm",
         "SC_rgb_small_odd.dcm", "test-SR.dcm", "image_dfl.dcm"]


def split(name: str) -> tuple[bytes, list[bytes], list, bytes]:
    data = open(get_testdata_file(name), "rb").read()
    dataset = pydicom.dcmread(io.BytesIO(data))
    cut = list(frames.frames(dataset))
    spans, rest = skeleton.decode(skeleton.encode(*skeleton.split(data, dataset, cut)))
    return data, cut, spans, rest


@pytest.mark.parametrize("name", FILES)
def test_a_split_file_is_joined_again_byte_for_byte(name):
    data, cut, spans, rest = split(name)
    joined = b"".join(skeleton.join(spans, rest, lambda n, at, length: cut[n - 1][at:at + length]))
    assert joined == data


@pytest.mark.parametrize("name", ["CT_small.dcm", "emri_small.dcm", "emri_small_jpeg_2k_lossless.dcm", "US1_J2KR.dcm"])
def test_the_frames_are_stored_once(name):
    data, cut, spans, rest = split(name)
    assert len(rest) + sum(map(len, cut)) == len(data) and {s[2] for s in spans} == set(range(1, len(cut) + 1))


def test_a_deflated_file_is_kept_whole():
    data, _, spans, rest = split("image_dfl.dcm")
    assert spans == [] and rest == data


@pytest.mark.parametrize("name", ["CT_small.dcm", "SC_rgb_rle_2frame.dcm"])
@pytest.mark.parametrize("where", ["first byte", "last byte"])
def test_frames_that_differ_from_the_file_by_one_byte_keep_it_whole(name, where):
    data = open(get_testdata_file(name), "rb").read()
    dataset = pydicom.dcmread(io.BytesIO(data))
    cut = list(frames.frames(dataset))
    index = 0 if where == "first byte" else -1
    altered = bytearray(cut[-1])
    altered[index] ^= 0xFF
    assert skeleton.split(data, dataset, [*cut[:-1], bytes(altered)]) == ([], data)


ST, SE, SOP, GEN, OTHER = "1.2.3", "1.2.4", "1.2.5", "0123456789abcdef", "fedcba9876543210"


def stored_names(generation):
    return [dicom_store.skeleton_key(ST, SE, SOP, generation=generation),
            dicom_store.joined_part10_key(ST, SE, SOP, generation=generation),
            dicom_store.instance_multipart_key(ST, SE, SOP, generation=generation),
            dicom_store.frames_key(ST, SE, SOP, [1, 2], generation=generation),
            dicom_store.image_key(ST, SE, SOP, "rendered", generation=generation),
            dicom_store.series_multipart_key(ST, SE, 3, generation=generation)]


@pytest.mark.parametrize("generation", [GEN, None])
def test_skeleton_and_cached_names_keep_their_generation(generation):
    assert {dicom_store.generation_of(k) for k in stored_names(generation)} == {generation}
    assert all(k.startswith("cache/") for k in stored_names(generation)[1:])


def test_a_purge_takes_the_cached_objects_of_its_generations():
    listed = stored_names(GEN) + stored_names(OTHER)
    with mock.patch.object(dicom_store, "keys_under", side_effect=lambda prefix: [k for k in listed if k.startswith(prefix)]):
        assert sorted(dicom_store.series_objects(ST, SE, {GEN})) == sorted(stored_names(GEN))


def _native(rows: int, columns: int, bits: int, count: int | None, **elements) -> pydicom.Dataset:
    from pydicom.dataset import Dataset, FileMetaDataset

    dataset = Dataset()
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    dataset.Rows, dataset.Columns, dataset.BitsAllocated, dataset.SamplesPerPixel = rows, columns, bits, 1
    if count is not None:
        dataset.NumberOfFrames = count
    for keyword, value in elements.items():
        setattr(dataset, keyword, value)
    return dataset


def test_1_bit_frames_not_ending_on_a_byte_are_packed_again_from_their_first_pixel():
    import numpy as np

    bits = np.random.default_rng(5).integers(0, 2, 75, dtype=np.uint8)
    dataset = _native(5, 5, 1, 3, PixelData=np.packbits(bits, bitorder="little").tobytes())
    assert list(frames.frames(dataset)) == [np.packbits(bits[n * 25:(n + 1) * 25], bitorder="little").tobytes()
                                            for n in range(3)]


def test_float_pixel_data_is_cut_into_frames():
    values = bytes(range(128))
    assert list(frames.frames(_native(4, 4, 32, 2, FloatPixelData=values))) == [values[:64], values[64:]]


def test_only_the_frames_the_data_holds_are_cut_and_empty_pixel_data_has_none():
    assert list(frames.frames(_native(2, 2, 8, 5, PixelData=bytes(8)))) == [bytes(4), bytes(4)]
    assert list(frames.frames(_native(2, 2, 8, None, PixelData=b""))) == []


def test_a_deflated_file_s_frames_are_explicit_little_endian():
    assert frames.frame_transfer_syntax("1.2.840.10008.1.2.1.99") == "1.2.840.10008.1.2.1"
    assert frames.frame_transfer_syntax("1.2.840.10008.1.2.4.50") == "1.2.840.10008.1.2.4.50"


@pytest.mark.parametrize("name", ["CT_small.dcm", "emri_small_RLE.dcm", "US1_J2KR.dcm", "SC_rgb_rle_2frame.dcm"])
def test_a_parsed_file_is_split_without_reading_it_again(name):
    """Ingest parsed the file already: where its pixel data lies comes from that parse (one
    pydicom pass per stored instance), with the same spans as reading it again finds."""
    data = open(get_testdata_file(name), "rb").read()
    dataset = pydicom.dcmread(io.BytesIO(data))
    cut = list(frames.frames(dataset))
    expected = skeleton.split(data, dataset, cut)
    with mock.patch.object(pydicom, "dcmread", side_effect=AssertionError("read again")):
        assert skeleton.split(data, dataset, cut) == expected
    assert expected[0] != []


def test_a_dataset_encoded_again_is_split_at_its_new_bytes():
    """Coercion encodes the dataset again (`ParsedInstance.coerced`): the offsets pydicom kept are
    those of the old bytes, so the new ones are read."""
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    dataset.PatientName = "A much longer patient name than the one before^Coerced"
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    data, cut = buffer.getvalue(), list(frames.frames(dataset))
    spans, rest = skeleton.split(data, dataset, cut)
    assert spans and b"".join(skeleton.join(spans, rest, lambda n, at, length: cut[n - 1][at:at + length])) == data
