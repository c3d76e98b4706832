"""Routes decide nothing (docs/architecture.md, "Conventions"): a permission decision is taken by
`auth/policy.py`, so no module of `chalicelib/api/` raises a refusal (403/404) itself, reads the
caller's kind or an album membership, or sums DICOM tags into a response. Read from the source (AST)."""
from __future__ import annotations

import ast
from pathlib import Path

API = Path(__file__).resolve().parents[2] / "chalicelib" / "api"
REFUSALS = {"Forbidden", "NotFound", "AlbumNotFound", "StudyNotFound", "SeriesNotFound", "UserNotFound"}
DECIDING_ATTRIBUTES = {"kind", "is_admin", "is_inbox", "has_user_access"}

# Known exceptions, each with its reason: (module, finding).
ALLOWED = {
    # A CSRF guard on the HTML form launch (Origin / Sec-Fetch-Site), not a permission decision.
    ("launch.py", "raise Forbidden"),
}


def _findings(path: Path) -> set[tuple[str, str]]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Raise) and node.exc is not None:
            raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if ast.unparse(raised).split(".")[-1] in REFUSALS:
                found.add((path.name, f"raise {ast.unparse(raised)}"))
        elif isinstance(node, ast.Attribute) and node.attr in DECIDING_ATTRIBUTES:
            found.add((path.name, f"reads .{node.attr}"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) == 8 \
                and node.value.isalnum() and node.value.upper() == node.value and node.value[:4].isdigit():
            found.add((path.name, f"DICOM tag {node.value}"))
    return found


def test_no_route_refuses_or_decides_by_itself():
    found = set().union(*(_findings(p) for p in sorted(API.glob("*.py")) if p.name not in ("routing.py", "responses.py")))
    assert found - ALLOWED == set()
    assert ALLOWED <= found, "an allowed exception is gone: remove it from ALLOWED"
