"""Two costs of moto's UpdateExpressions that DynamoDB's answers do not depend on.

**Parsing once per expression.** `update_item` parses its UpdateExpression on every call (~1.1 ms
for 22 actions) and hands the tree only to `UpdateExpressionValidator`, which deep-copies it before
touching it. Obelisk sends the same few expressions again and again, so the tree is kept per
expression text (`PARSED`, at most `PARSED_LIMIT` of them) and handed out instead; an expression
that does not parse raises moto's error each time, as before.

**The clause count in linear time.** moto's check that an UpdateExpression has at most one SET,
one REMOVE and one ADD clause,
`ActionCountValidator` visits every node of the expression's tree and, at each clause (all of them
are `UpdateExpression` nodes), searches its whole subtree three times (`find_clauses`): quadratic in
the number of actions, ~1.9 ms of the emulator's CPU for an update of 22 actions, the largest
single cost of a STOW's TransactWriteItems. Here the same counts are kept per node as the
traversal climbs (each subtree counted once), and the same node, in the same order, raises the
same `TooManyClauses`. The counts live on the validator, which moto makes for one expression.

**Each validator's map built once.** moto's `DepthFirstTraverser` rebuilds its processor's map (node
class -> method, a constant per class) twice at every node it visits (`nodes_to_be_processed`,
`process`); ten processors walk each update's tree. The map, and the tuple of its classes, are
built once per processor.

**The validator's copy of the tree made directly.** `Validator.__init__` deep-copies the tree
(`copy.deepcopy`, the module's `deepcopy` global) before its processors change it: through
`__reduce_ex__` and a memo for every node, list and string, ~7 ms of a STOW transaction's update
under the profiler, a third of the validation. `copied_tree` makes the same copy: each node a new
object of its class with its attributes copied in the same order, lists new lists, parents pointing
to the copies (the memo, as `deepcopy`'s), strings and numbers shared (`deepcopy` shares them too);
anything else (a DynamoType in `list_append`, a class with copy hooks of its own) goes to
`copy.deepcopy` with the same memo.

**The walks made lean.** Each of the ten processors walks the whole tree
(`DepthFirstTraverser.traverse_node_recursively`): at every node an `isinstance` against moto's
abstract `Node` class, a call of the base class's empty `pre_processing_of_child` hook per child,
an `isinstance` against the processor's node classes and another in `process` to find the
method: ~70% of the validation's time under the profiler in `bench.stow`, the processors' own work
the rest. `traverse_node_recursively` here visits the same nodes in the same order and calls the
same processor methods on the same nodes, replacing each node in its parent as moto does; what
it learns from `isinstance` is kept per node class (`IS_NODE`) and per processor class and node
class (`HANDLED`: the first of the processor's classes, in its map's order, that the node is an
instance of, as `process` picks it; every processor of moto 5.2.5 returns a map with the same
classes on every call); the hook is called only where a processor overrides it
(`ExpressionAttributeResolvingProcessor`).

The kept trees are shared between requests but never changed (only the validator's copies
are), so none of these patches needs `ONE_AT_A_TIME`."""
from __future__ import annotations

import copy

from moto.dynamodb.exceptions import TooManyClauses
from moto.dynamodb.parsing import validators
from moto.dynamodb.parsing.ast_nodes import (
    DepthFirstTraverser,
    Expression,
    Node,
    UpdateExpressionAddClause,
    UpdateExpressionFunction,
    UpdateExpressionRemoveClause,
    UpdateExpressionSetClause,
)
from moto.dynamodb.parsing.expressions import UpdateExpressionParser

CLAUSES = (UpdateExpressionAddClause, UpdateExpressionRemoveClause, UpdateExpressionSetClause)
NAMES = ("ADD", "REMOVE", "SET")  # moto checks them in this order
PARSED_LIMIT = 512
PARSED: dict[str, object] = {}


def clause_counts(node, memo: dict) -> tuple[int, int, int]:
    """What `node.find_clauses([C])` finds, for each clause C of `CLAUSES`: a child of type C counts
    one (and is not searched for C), a child Expression or function is searched, nothing else is."""
    known = memo.get(id(node))
    if known is not None:
        return known
    totals = [0, 0, 0]
    for child in node.children or []:
        below = clause_counts(child, memo) if isinstance(child, (Expression, UpdateExpressionFunction)) else (0, 0, 0)
        for i, clause in enumerate(CLAUSES):
            totals[i] += 1 if type(child) is clause else below[i]
    memo[id(node)] = counted = tuple(totals)
    return counted


def verify_action_counts(self, node):
    """moto's `ActionCountValidator.verify_action_counts`, each subtree counted once."""
    for name, count in zip(NAMES, clause_counts(node, self.__dict__.setdefault("obelisk_counts", {})), strict=True):
        if count > 1:
            raise TooManyClauses(name)
    return node


verify_action_counts.obelisk_patched = True


def processing_map(traverser) -> dict:
    """The traverser's `_processing_map()`, built on first use."""
    known = traverser.__dict__.get("obelisk_map")
    if known is None:
        known = traverser.__dict__["obelisk_map"] = traverser._processing_map()
    return known


def nodes_to_be_processed(self):
    known = self.__dict__.get("obelisk_kinds")
    if known is None:
        known = self.__dict__["obelisk_kinds"] = tuple(processing_map(self))
    return known


def process(self, node):
    for class_key, processor in processing_map(self).items():
        if isinstance(node, class_key):
            return processor(node)


IS_NODE: dict[type, bool] = {}
HANDLED: dict[tuple[type, type], type | None] = {}
HOOKED: dict[type, bool] = {}


def _learn(traverser, node) -> None:
    """What the walk needs to know about `node`'s class, and the traverser's, once."""
    kind, walker = type(node), type(traverser)
    if kind not in IS_NODE:
        IS_NODE[kind] = isinstance(node, Node)
    if walker not in HOOKED:  # the base class's hook does nothing
        HOOKED[walker] = walker.pre_processing_of_child is not BASE_PRE_PROCESSING
    if (walker, kind) not in HANDLED:  # the first class of the map that `process` would pick
        HANDLED[walker, kind] = next((k for k in processing_map(traverser) if isinstance(node, k)), None)


def traverse_node_recursively(self, node, child_id=-1):
    """moto's `DepthFirstTraverser.traverse_node_recursively`, its type tests kept per class (module docstring)."""
    kind, walker = type(node), type(self)
    is_node = IS_NODE.get(kind)
    if is_node is None:
        _learn(self, node)
        is_node = IS_NODE[kind]
    if not is_node:
        return node
    parent_node = node.parent
    if node.children is not None:
        if walker not in HOOKED:
            _learn(self, node)
        if HOOKED[walker]:
            for i, child_node in enumerate(node.children):
                self.pre_processing_of_child(node, i)
                self.traverse_node_recursively(child_node, i)
        else:
            for i, child_node in enumerate(node.children):
                self.traverse_node_recursively(child_node, i)
    try:
        handled = HANDLED[walker, kind]
    except KeyError:
        _learn(self, node)
        handled = HANDLED[walker, kind]
    if handled is not None:
        node = processing_map(self)[handled](node)
        node.parent = parent_node
        if parent_node:
            parent_node.children[child_id] = node
    return node


traverse_node_recursively.obelisk_patched = True
BASE_PRE_PROCESSING = DepthFirstTraverser.pre_processing_of_child


_SHARED = (str, int, float, bool, type(None))  # what `copy.deepcopy` returns as is
_PLAIN: dict[type, bool] = {}


def _plain(kind: type) -> bool:
    """Whether `copy.deepcopy` copies a `kind` node by its `__dict__` alone (no copy hooks)."""
    known = _PLAIN.get(kind)
    if known is None:
        known = _PLAIN[kind] = (getattr(kind, "__deepcopy__", None) is None and not hasattr(kind, "__slots__")
                                and kind.__reduce_ex__ is object.__reduce_ex__ and kind.__reduce__ is object.__reduce__
                                and kind.__getstate__ is object.__getstate__ and not hasattr(kind, "__setstate__"))
    return known


def copied_tree(value, memo=None):
    """`copy.deepcopy(value, memo)` for moto's expression trees, made directly (module docstring)."""
    kind = type(value)
    if kind in _SHARED:
        return value
    if memo is None:
        memo = {}
    known = memo.get(id(value))
    if known is not None:
        return known
    if kind is list:
        copied = memo[id(value)] = []
        copied.extend([copied_tree(v, memo) for v in value])
        return copied
    if isinstance(value, Node) and _plain(kind):
        copied = memo[id(value)] = kind.__new__(kind)
        copied.__dict__.update({k: copied_tree(v, memo) for k, v in value.__dict__.items()})
        return copied
    return copy.deepcopy(value, memo)


copied_tree.obelisk_patched = True


def install() -> None:
    """`ActionCountValidator` counts clauses in linear time; each expression text is parsed once;
    the validator's copy of a tree is made directly."""
    if getattr(validators.ActionCountValidator.verify_action_counts, "obelisk_patched", False):
        return
    validators.deepcopy = copied_tree
    validators.ActionCountValidator.verify_action_counts = verify_action_counts
    DepthFirstTraverser.nodes_to_be_processed = nodes_to_be_processed
    DepthFirstTraverser.process = process
    DepthFirstTraverser.traverse_node_recursively = traverse_node_recursively
    parse = UpdateExpressionParser.make.__func__

    def make(cls, expression_str):
        if cls is not UpdateExpressionParser:
            return parse(cls, expression_str)
        tree = PARSED.get(expression_str)
        if tree is None:
            tree = parse(cls, expression_str)  # moto's errors, raised each time
            if len(PARSED) >= PARSED_LIMIT:
                PARSED.clear()
            PARSED[expression_str] = tree
        return tree

    UpdateExpressionParser.make = classmethod(make)
