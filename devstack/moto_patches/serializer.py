"""DynamoDB attribute values written into a response without walking botocore's model for each.

moto 5 serializes every response through botocore's model of the operation: for each attribute
value of each returned item it tries the ten members of `AttributeValue` (S, N, B, SS, ..., BOOL),
each through a chain of alias lookups (`serialize.AttributePicker.get_possible_keys`): ~1.4 ms an
item, so a search answering 1,000 index entries spent ~1.4 s in the emulator's serializer, a cost
AWS does not have. This writes an `AttributeValue`, and a map of them (an item, a key), of the
DynamoDB JSON protocol directly from the value moto hands the serializer (dicts of those members,
`dynamo_to_dict`), with the same rules as moto's serializer (members in the model's order, absent
or None members left out, strings through `str`, binaries in base64, lists and maps member by
member), so the body's bytes are the same; anything else (another service, a value that is not
such a dict) is left to moto's serializer.
Before that, moto turns the operation's result (items as maps of `DynamoType`) into those dicts
with `dynamo_to_dict`, which asks each value in turn whether it is a datetime, a `DynamoType`,
has a `to_json`, is a dict or a list; `to_dicts` does the same walk testing each value's exact
type first (a `DynamoType`, a dict or moto's `LimitedSizeDict`, a list, a string, a number, a
boolean, None) and leaves anything else to moto's function: the same dicts.
`tests/integration/test_emulator.py` compares the emulator's answers with moto's own, byte for byte."""
from __future__ import annotations

import base64

import moto.dynamodb.responses as dynamodb_responses
from moto.core.serialize import BaseJSONSerializer
from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
from moto.dynamodb.models.utilities import dynamo_to_dict

SERVICE, SHAPE = "dynamodb", "AttributeValue"
_NOTHING = (None, {}, [])  # what moto's string serializer passes through as is


class _Unusual(Exception):
    """A value this does not write exactly as moto would: moto's serializer writes it."""


def _members(shape) -> list[tuple[str, str, str | None]]:
    """(name, type, type of a list's member) of each member of `AttributeValue`, in model order."""
    return [(name, member.type_name, member.member.type_name if member.type_name == "list" else None)
            for name, member in shape.members.items()]


def _scalar(serializer, kind: str, value):
    if kind == "string":
        return str(value) if value not in _NOTHING else value
    if kind == "blob":
        return serializer._base64(value)
    if kind == "boolean":
        return value
    raise _Unusual(kind)


def _attribute_value(serializer, members, value) -> dict:
    if type(value) is not dict or not value.keys() <= {name for name, _, _ in members}:
        raise _Unusual(type(value).__name__)
    written = {}
    for name, kind, item_kind in members:
        member = value.get(name)
        if member is None:
            continue
        if (kind == "map") != (type(member) is dict) or (kind == "list") != (type(member) is list):
            raise _Unusual(name)
        if kind == "map":
            written[name] = {k: _attribute_value(serializer, members, v) for k, v in member.items() if v is not None}
        elif kind == "list" and item_kind == "structure":
            written[name] = [None if v is None else _attribute_value(serializer, members, v) for v in member]
        elif kind == "list":
            written[name] = [_scalar(serializer, item_kind, v) for v in member]
        else:
            written[name] = _scalar(serializer, kind, member)
    return written


_AS_IS = (str, int, float, bool, type(None))  # what `dynamo_to_dict` hands back unchanged
_MAPS = (dict, LimitedSizeDict)  # dicts without a `to_json`: walked key by key


def to_dicts(value):
    """`dynamo_to_dict(value)`, each value's exact type tested first."""
    kind = type(value)
    if kind is DynamoType:
        if value.type == "B":
            return {"B": value.value if isinstance(value.value, bytes) else base64.b64decode(value.value)}
        if value.type == "BS":
            return dynamo_to_dict(value)
        return {value.type: to_dicts(value.value)}
    if kind in _MAPS:
        return {k: to_dicts(v) for k, v in value.items()}
    if kind is list:
        return [to_dicts(v) for v in value]
    if kind in _AS_IS:
        return value
    return dynamo_to_dict(value)


def install() -> None:
    structure, mapping = BaseJSONSerializer._serialize_type_structure, BaseJSONSerializer._serialize_type_map
    if getattr(structure, "obelisk_patched", False):
        return
    members_of: dict[str, list] = {}

    def written(serializer, shape, value, one: bool):
        """`value` written as an AttributeValue (`one`) or a map of them, or None when moto's
        serializer writes it (another service or shape, an unusual value)."""
        if shape.name != SHAPE or serializer.service_model.service_name != SERVICE:
            return None
        members = members_of.get(SHAPE) or members_of.setdefault(SHAPE, _members(shape))
        try:
            if one:
                return _attribute_value(serializer, members, value)
            if type(value) is not dict:
                return None
            return {k: _attribute_value(serializer, members, v) for k, v in value.items() if v is not None}
        except _Unusual:
            return None

    def serialize_structure(self, serialized, value, shape, key):
        done = written(self, shape, value, one=True) if key else None
        if done is None:
            structure(self, serialized, value, shape, key)
        else:
            serialized[self.get_serialized_name(shape, key)] = done

    def serialize_map(self, serialized, value, shape, key):
        done = written(self, shape.value, value, one=False)
        if done is None:
            mapping(self, serialized, value, shape, key)
        else:
            serialized[self.get_serialized_name(shape, key)] = done

    dynamodb_responses.dynamo_to_dict = to_dicts
    serialize_structure.obelisk_patched = True
    BaseJSONSerializer._serialize_type_structure = serialize_structure
    BaseJSONSerializer._serialize_type_map = serialize_map
