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
`process`); ten processors walk each update's tree. The map is built once per processor.

The kept trees are shared between requests but never changed (only the validator's deep copies
are), so neither patch needs `ONE_AT_A_TIME`."""
from __future__ import annotations

from moto.dynamodb.exceptions import TooManyClauses
from moto.dynamodb.parsing import validators
from moto.dynamodb.parsing.ast_nodes import (
    DepthFirstTraverser,
    Expression,
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
    return tuple(processing_map(self))


def process(self, node):
    for class_key, processor in processing_map(self).items():
        if isinstance(node, class_key):
            return processor(node)


def install() -> None:
    """`ActionCountValidator` counts clauses in linear time; each expression text is parsed once."""
    if getattr(validators.ActionCountValidator.verify_action_counts, "obelisk_patched", False):
        return
    validators.ActionCountValidator.verify_action_counts = verify_action_counts
    DepthFirstTraverser.nodes_to_be_processed = nodes_to_be_processed
    DepthFirstTraverser.process = process
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
