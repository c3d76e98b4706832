"""S3 object names (chalicelib/store/dicom_store.py): every name an instance or series row can be
written under carries its generation, and a purge recognises the generation of any name; the
objects of a failed STOW's instance are all found, the metadata document cached and written before
included."""
from unittest import mock

import pytest

from chalicelib.store import dicom_store

ST, SE, SOP, GEN, OTHER = "1.2.3", "1.2.4", "1.2.5", "0123456789abcdef", "fedcba9876543210"


def names(generation):
    return [dicom_store.part10_key(ST, SE, SOP, generation=generation),
            dicom_store.instance_multipart_key(ST, SE, SOP, generation=generation),
            dicom_store.instance_metadata_key(ST, SE, SOP, generation=generation),
            dicom_store.legacy_instance_metadata_key(ST, SE, SOP, generation=generation),
            dicom_store.frame_key(ST, SE, SOP, 2, generation=generation),
            dicom_store.bulk_key(ST, SE, SOP, "00880200.0.7FE00010", generation=generation),
            dicom_store.image_key(ST, SE, SOP, "thumbnail", generation=generation),
            dicom_store.series_metadata_key(ST, SE, 3, generation=generation),
            dicom_store.series_multipart_key(ST, SE, 3, generation=generation)]


def test_names_of_two_generations_never_meet_nor_meet_the_names_without_one():
    assert set(names(GEN)).isdisjoint(names(OTHER)) and set(names(GEN)).isdisjoint(names(None))
    assert len(dicom_store.new_generation()) == 16 and dicom_store.new_generation() != dicom_store.new_generation()


@pytest.mark.parametrize("generation", [GEN, None])
def test_the_generation_of_every_name_is_read_back(generation):
    assert {dicom_store.generation_of(k) for k in names(generation)} == {generation}


def test_a_purge_takes_its_generations_and_the_names_without_one_and_leaves_a_later_series():
    listed = names(GEN) + names(None) + names(OTHER)
    with mock.patch.object(dicom_store, "keys_under", side_effect=lambda prefix: [k for k in listed if k.startswith(prefix)]):
        assert sorted(dicom_store.series_objects(ST, SE, {GEN})) == sorted(names(GEN) + names(None))


def test_the_objects_of_an_instance_are_found_with_its_old_and_its_cached_metadata_document():
    """What a failed or raced STOW removes (`ingest_rows.delete_objects`): every object of the
    instance's generation, none of another's."""
    instance = [dicom_store.skeleton_key(ST, SE, SOP, generation=GEN),
                dicom_store.frame_key(ST, SE, SOP, 1, generation=GEN),
                dicom_store.legacy_instance_metadata_key(ST, SE, SOP, generation=GEN),
                dicom_store.instance_metadata_key(ST, SE, SOP, generation=GEN),
                dicom_store.image_key(ST, SE, SOP, "rendered", generation=GEN)]
    listed = instance + [dicom_store.instance_metadata_key(ST, SE, SOP, generation=OTHER)]
    with mock.patch.object(dicom_store, "keys_under", side_effect=lambda prefix: [k for k in listed if k.startswith(prefix)]):
        assert sorted(dicom_store.instance_keys(ST, SE, SOP, generation=GEN)) == sorted(instance)
