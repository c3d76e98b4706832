"""moto's check that an UpdateExpression has at most one SET, one REMOVE and one ADD clause, in
linear time.

`ActionCountValidator` visits every node of the expression's tree and, at each clause (all of them
are `UpdateExpression` nodes), searches its whole subtree three times (`find_clauses`): quadratic in
the number of actions, ~1.9 ms of the emulator's CPU for an update of 22 actions, the largest
single cost of a STOW's TransactWriteItems. Here the same counts are kept per node as the
traversal climbs (each subtree counted once), and the same node, in the same order, raises the
same `TooManyClauses`. No shared state: the counts live on the validator, which moto makes for
one expression, so `ONE_AT_A_TIME` is not needed."""
from __future__ import annotations

from moto.dynamodb.exceptions import TooManyClauses
from moto.dynamodb.parsing import validators
from moto.dynamodb.parsing.ast_nodes import (
    Expression,
    UpdateExpressionAddClause,
    UpdateExpressionFunction,
    UpdateExpressionRemoveClause,
    UpdateExpressionSetClause,
)

CLAUSES = (UpdateExpressionAddClause, UpdateExpressionRemoveClause, UpdateExpressionSetClause)
NAMES = ("ADD", "REMOVE", "SET")  # moto checks them in this order


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


def install() -> None:
    """`ActionCountValidator` counts clauses in linear time."""
    if getattr(validators.ActionCountValidator.verify_action_counts, "obelisk_patched", False):
        return
    validators.ActionCountValidator.verify_action_counts = verify_action_counts
