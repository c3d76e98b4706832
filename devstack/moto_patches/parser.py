"""DynamoDB requests parsed by walkers built once per shape, with moto's parser's result.

moto reads a DynamoDB request's JSON through botocore's model (`moto.core.parse.JSONParser`):
each value is handed to `_parse_shape`, which looks its handler up by name (`getattr`), and
every structure asks the value for each of its members, so each attribute value of an item (a
structure of ten members: S, N, B, SS, NS, BS, M, L, NULL, BOOL, one of them sent) costs ten
look-ups and a dispatch per level (a STOW's TransactWriteItems, carrying the rows of its
instances: 0.85 ms of CPU each to parse, 0.45 ms here, measured on the 36 of a captured
`bench.stow` session). Here the walk of each shape is built once, from
the same model: a structure keeps the members the value has, in the model's order, those sent
as JSON `null` left out, as moto's loop over the members does; a list and a map walk their
elements (a map's keys through their own shape, into a `dict`); blobs and timestamps go to the
parser's own blob and timestamp parsers, floats to `float`, integers to `int`; anything else is
the value itself, as moto's `_default_handle`. A value that is not a JSON object where a
structure is expected goes through the same `value.get` as in moto, raising what moto raises.

Only DynamoDB's requests with moto's default map type and blob and timestamp parsers take this
path (`JSONParser` itself, not a subclass); any other parse is moto's.
`tests/unit/test_emulator_patches.py::test_dynamodb_requests_parse_as_moto_parses_them` compares
the results on every DynamoDB operation's input shape."""
from __future__ import annotations

from collections.abc import Callable

from moto.core import parse

SERVICE = "dynamodb"
_walkers: dict[tuple[int, str], Callable] = {}


def install() -> None:
    """`JSONParser._parse_json_body` walks DynamoDB's requests with the built walkers."""
    original = parse.JSONParser._parse_json_body
    if getattr(original, "obelisk_patched", False):
        return

    def parse_json_body(self, raw_body, shape):
        if (type(self) is not parse.JSONParser or self.MAP_TYPE is not dict or shape is None
                or self._blob_parser is not parse.default_blob_parser
                or self._timestamp_parser is not parse.default_timestamp_parser
                or self.operation_model.service_model.service_name != SERVICE):
            return original(self, raw_body, shape)
        return walker(shape)(self._parse_body_as_json(raw_body))

    parse_json_body.obelisk_patched = True
    parse.JSONParser._parse_json_body = parse_json_body


def _same(value):
    return value


def walker(shape) -> Callable:
    """The function that parses a value of `shape` as `JSONParser._parse_shape` does."""
    key = (id(shape._shape_resolver), shape.name)
    found = _walkers.get(key)
    if found is None:
        found = _walkers[key] = _build(shape)
    return found


def _build(shape) -> Callable:
    kind = shape.type_name
    if kind == "structure":
        return _same if shape.is_document_type else _structure(shape)
    if kind == "list":
        return _list(shape)
    if kind == "map":
        return _map(shape)
    if kind == "blob":
        return parse.default_blob_parser
    if kind == "timestamp":
        return parse.default_timestamp_parser
    if kind in ("float", "double"):
        return float
    if kind in ("integer", "byte", "short", "long"):
        return int
    return _same


def _structure(shape) -> Callable:
    members = [(name, member.serialization.get("name", name), member) for name, member in shape.members.items()]
    position = {json_name: index for index, (_, json_name, _) in enumerate(members)}
    steps: list = []  # (member name, JSON name, walker), built at the first value (shapes nest in themselves)

    def walk(value):
        if value is None:
            return None
        if not steps:
            steps.extend((name, json_name, walker(member)) for name, json_name, member in members)
        parsed = {}
        if type(value) is dict and len(value) < len(steps):
            sent = sorted(position[json_name] for json_name in value if json_name in position)
            chosen = [steps[index] for index in sent]
        else:
            chosen = steps
        for name, json_name, step in chosen:
            raw = value.get(json_name)
            if raw is not None:
                parsed[name] = raw if step is _same else step(raw)
        return parsed

    return walk


def _list(shape) -> Callable:
    member = shape.member
    step: list = []

    def walk(node):
        if not step:
            step.append(walker(member))
        each = step[0]
        return list(node) if each is _same else [each(item) for item in node]

    return walk


def _map(shape) -> Callable:
    key_shape, value_shape = shape.key, shape.value
    steps: list = []

    def walk(value):
        if not steps:
            steps.extend((walker(key_shape), walker(value_shape)))
        key_step, value_step = steps
        if key_step is _same:
            return {key: value_step(val) for key, val in value.items()}
        return {key_step(key): value_step(val) for key, val in value.items()}

    return walk
