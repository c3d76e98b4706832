"""Objects pydicom reads one way and DCMTK another are refused before anything is stored
(chalicelib/dicom/integrity.py): a sequence item whose declared length runs past the end of its
sequence, at the top level or nested, found by the outside check of round 17 (the index saw the
patient's name at the top level, `dcmdump` inside the item)."""
from __future__ import annotations

import pytest

from chalicelib.errors import BadRequest
from chalicelib.services import parsed
from tests.support.sequences import with_sequence_item


@pytest.mark.parametrize("nested", [False, True], ids=["top level", "nested"])
def test_an_item_running_past_its_sequence_is_refused(nested):
    with pytest.raises(BadRequest, match="sequence item runs past the end of its sequence"):
        parsed.parse(with_sequence_item(200, nested=nested))


@pytest.mark.parametrize("nested", [False, True], ids=["top level", "nested"])
def test_the_same_object_with_the_item_s_true_length_is_read(nested):
    instance = parsed.parse(with_sequence_item(0, nested=nested))
    assert str(instance.dataset.PatientName) == "CompressedSamples^CT1"
    assert instance.dataset.ProcedureCodeSequence[0].CodeValue == "CODE01"


def test_an_item_one_byte_too_long_is_refused():
    with pytest.raises(BadRequest):
        parsed.parse(with_sequence_item(1))
