"""What pydicom reads without complaint and other readers read differently: ingest refuses such
an object (400) rather than index one reading of it and serve bytes another tool reads otherwise.

- A value shorter than its declared length at the end of the file (`truncated`): pydicom keeps
  the short value.
- A sequence item whose declared length runs past the end of its sequence of defined length
  (`overrunning_item`): pydicom reads the item within the sequence's bytes and the elements after
  the sequence at the top level; DCMTK follows the item's length and reads those elements (a
  patient's name and ID, say) inside the item. Found by the outside check of round 17: the index
  and the checks of the study's identity saw one patient, `dcmdump` of the stored file another."""
from __future__ import annotations

import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

ITEM = (0xFFFE, 0xE000)
UNDEFINED = 0xFFFFFFFF


def truncated(dataset: Dataset) -> bool:
    """Whether a top-level value is shorter than its declared length."""
    for tag in dataset.keys():
        raw = dataset.get_item(tag)
        length, value = getattr(raw, "length", None), getattr(raw, "value", None)
        if isinstance(value, bytes) and length not in (None, UNDEFINED) and len(value) < length:
            return True
    return False


def overrunning_item(dataset: Dataset) -> bool:
    """Whether a sequence of defined length, at any depth, holds an item of defined length that
    ends past the sequence's end (module docstring). Sequences are converted on the way down, as
    the metadata document converts them."""
    for tag in dataset.keys():
        raw = dataset.get_item(tag)
        if not _is_sequence(raw, tag):
            continue
        if getattr(raw, "is_raw", False) and raw.length != UNDEFINED and isinstance(raw.value, bytes) \
                and _items_overrun(raw.value, raw.is_little_endian):
            return True
        if any(overrunning_item(item) for item in dataset[tag].value):
            return True
    return False


def _is_sequence(element, tag: int) -> bool:
    vr = getattr(element, "VR", None)
    if vr is None:  # implicit VR: the dictionary's
        from pydicom.datadict import dictionary_VR

        try:
            vr = dictionary_VR(tag)
        except KeyError:
            return False
    return vr == "SQ"


def _items_overrun(value: bytes, little_endian: bool) -> bool:
    """Whether an item of defined length ends past `value`, a sequence's bytes. An item of
    undefined length ends at its delimiter, found by parsing it: pydicom's reading decides then."""
    header = struct.Struct("<HHL" if little_endian else ">HHL")
    at = 0
    while at + header.size <= len(value):
        group, element, length = header.unpack_from(value, at)
        if (group, element) != ITEM or length == UNDEFINED:
            return False
        at += header.size + length
        if at > len(value):
            return True
    return False
