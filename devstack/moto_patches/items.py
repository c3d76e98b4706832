"""An item's size limit checked in linear time when moto builds the item, and an item projected
without converting all of it once per projected path.

moto keeps an item's attributes in a `LimitedSizeDict`, whose `__setitem__` refuses an attribute
that would take the item over its size limit (`ItemSizeTooLarge`, DynamoDB's 400 KB): to know the
item's size it sums the sizes of every attribute name and value already there, on every
assignment. `Item.__init__` assigns the attributes one by one, so building an item of n
attributes sizes ~n²/2 of them: ~5% of the emulator's CPU in `bench.stow`, where a STOW's
transaction puts items of 20 to 60 attributes. Here `Item.__init__` keeps the running sum while
it builds the same dictionary: the values are new `DynamoType`s no one else holds yet, so the sum
moto recomputes at each step is the one kept, and the same attribute raises the same error.
Assignments after the item is built (an update's SET) still go through moto's `__setitem__`.

The item is built by the request that puts it, before anything else sees it: no
`ONE_AT_A_TIME` needed.

moto's `Item.project` (a ProjectionExpression, on GetItem, BatchGetItem, Query, Scan) converts the
whole item to plain Python (`to_regular_json`, every attribute) for each path it projects, then
picks the path's value: a study row read for five attributes of its thirty was converted five
times whole (~40% of the emulator's CPU in a name search at 3,000 studies). Here each path looks
in a conversion of its own root attribute only, the value `find_nested_key` would find in the
whole one, and the projected values are merged and converted back as moto does: the same item.
A top-level name, the one path under its attribute, whose value holds only strings, booleans,
nulls, maps and lists (what that round trip gives back unchanged; numbers are normalized by it,
binaries re-encoded) is not converted at all: the projected item holds the stored value itself,
which the answer reads and nothing writes. A projection reads the item and builds a new one: no
`ONE_AT_A_TIME` needed either."""
from __future__ import annotations

import re

from botocore.utils import merge_dicts
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict, deserializer, serializer
from moto.dynamodb.models.utilities import bytesize, find_nested_key

ITEM_SIZE_LIMIT = 405000  # moto's own (between DynamoDB's measured 409 and 410 KB)


def item_init(self, hash_key, range_key, attrs) -> None:
    """moto's `Item.__init__`, the item's size summed once."""
    self.hash_key = hash_key
    self.range_key = range_key
    self.attrs = built = LimitedSizeDict()
    total = 0
    for key, value in attrs.items():
        typed = DynamoType(value)
        added = bytesize(key) + typed.size()
        if total + added > ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge
        dict.__setitem__(built, key, typed)
        total += added  # what moto's sum counts for it at the next step (names are strings)


item_init.obelisk_patched = True

_LIST_ELEMENT = re.compile(r"(.+)\[(\d+)\]$")  # `find_nested_key`'s reading of `name[3]`


def _root(first: str) -> str:
    """The attribute a path's first part names, as `find_nested_key` reads it."""
    element = _LIST_ELEMENT.match(first)
    return element.group(1) if element else first


_UNCHANGED_TYPES = ("S", "BOOL", "NULL")  # by the plain-Python round trip; and maps, lists of them


def _unchanged_by_conversion(value: DynamoType) -> bool:
    if value.type == "M":
        return all(_unchanged_by_conversion(v) for v in value.value.values())
    if value.type == "L":
        return all(_unchanged_by_conversion(v) for v in value.value)
    return value.type in _UNCHANGED_TYPES


def project(self, projection_expressions: list[list[str]]) -> Item:
    """moto's `Item.project`, each path looked up in its root attribute's conversion alone, a
    whole attribute the conversion would give back unchanged held as it is."""
    result: dict = {}
    held: dict[str, DynamoType] = {}
    order: dict[str, None] = {}  # the roots in the order moto's merged result has them
    roots = [_root(expression[0]) for expression in projection_expressions]
    for expression, root in zip(projection_expressions, roots, strict=True):
        if root not in self.attrs:
            continue
        value = self.attrs[root]
        if expression == [root] and roots.count(root) == 1 and _unchanged_by_conversion(value):
            held[root] = value
            order.setdefault(root)
        else:
            found = find_nested_key(expression, {root: deserializer.deserialize(value.to_regular_json())})
            merge_dicts(result, found)
            order.update(dict.fromkeys(k for k in found if k not in order))
    converted = serializer.serialize(result)["M"]
    projected = Item(hash_key=self.hash_key, range_key=self.range_key, attrs={})
    for root in order:
        dict.__setitem__(projected.attrs, root, held[root] if root in held else DynamoType(converted[root]))
    return projected


project.obelisk_patched = True


def install() -> None:
    """`Item.__init__` sums the item's size once; `Item.project` converts only what it projects."""
    if getattr(Item.__init__, "obelisk_patched", False):
        return
    Item.__init__ = item_init
    Item.project = project
