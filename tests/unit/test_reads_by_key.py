"""Reads by key go through the store (docs/architecture.md, "Conventions"): `store.items.get_or_none`
or a repository function, not `try: Model.get(...) except Model.DoesNotExist` outside
`chalicelib/store/`. Read from the source (AST), nothing is imported."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Known remaining debt, as a ceiling per file: file -> (most such blocks allowed, why still there).
# Every other file outside store/ may have none. Lower a figure when its debt goes.
DEBT: dict[str, tuple[int, str]] = {}


def _catches_does_not_exist(handler: ast.ExceptHandler) -> bool:
    caught = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(c, ast.Attribute) and c.attr == "DoesNotExist"
               or isinstance(c, ast.Name) and c.id == "DoesNotExist" for c in caught)


def does_not_exist_blocks(source: str) -> int:
    """The `try` statements with an `except ... DoesNotExist` handler (alone or in a tuple)."""
    return sum(1 for node in ast.walk(ast.parse(source))
               if isinstance(node, ast.Try) and any(_catches_does_not_exist(h) for h in node.handlers))


def _outside_store() -> dict[str, int]:
    files = [ROOT / "app.py", *(p for p in (ROOT / "chalicelib").rglob("*.py") if "store" not in p.parts)]
    found = {str(p.relative_to(ROOT)): does_not_exist_blocks(p.read_text()) for p in files}
    return {name: count for name, count in found.items() if count}


def test_no_try_get_except_does_not_exist_outside_store_but_the_listed_debt():
    over = {name: count for name, count in _outside_store().items() if count > DEBT.get(name, (0, ""))[0]}
    assert over == {}


def test_the_check_sees_single_tuple_and_imported_handlers():
    source = """
try:
    a = Album.get("k", "META")
except Album.DoesNotExist:
    a = None
try:
    p = Pointer.get("k", "K")
    c = Capability.get(p.hash, "META")
except (Pointer.DoesNotExist, Capability.DoesNotExist) as error:
    raise NotFound() from error
try:
    x = Model.get("k", "K")
except DoesNotExist:
    pass
try:
    y = 1 / 0
except (ZeroDivisionError, KeyError):
    pass
"""
    assert does_not_exist_blocks(source) == 3
