"""The DynamoDB key grammar (`ALBUM#`, `MEMBER#`, `STUDY#`, ...) lives in `chalicelib/store/` only:
everything else reads and writes through `Model.key(...)` and the repositories (`store/albums.py`,
`store/studies.py`, `store/users.py`, ...). Read from the source (AST), nothing is imported."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEY_PREFIX = re.compile(r"^[A-Z][A-Z_]*#")

# Known remaining debt: file -> (number of raw prefixes, why they are still there).
DEBT: dict[str, tuple[int, str]] = {}


def raw_prefixes(source: str) -> list[str]:
    """String literals (f-string parts too) that start like a key prefix."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and KEY_PREFIX.match(node.value):
            found.append(node.value)
    return found


def _outside_store() -> dict[str, list[str]]:
    files = [ROOT / "app.py", *(p for p in (ROOT / "chalicelib").rglob("*.py") if "store" not in p.parts)]
    found = {str(p.relative_to(ROOT)): raw_prefixes(p.read_text()) for p in files}
    return {name: prefixes for name, prefixes in found.items() if prefixes}


def test_no_raw_key_prefix_outside_store_but_the_listed_debt():
    found = {name: len(prefixes) for name, prefixes in _outside_store().items()}
    assert found == {name: count for name, (count, _) in DEBT.items()}


def test_the_check_sees_prefixes_in_plain_and_f_strings():
    assert sorted(raw_prefixes('x = f"ALBUM#{a}"; y = "MEMBER#"; z = "Comment#1"; w = "META"')) == ["ALBUM#", "MEMBER#"]
