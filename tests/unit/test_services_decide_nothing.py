"""Services decide nothing either (docs/architecture.md, "Conventions"): the services that used to
refuse by themselves (held series, capability tokens, sharing, report-provider and viewer launches)
ask `auth/policy/` instead, so none of them raises a refusal (403/404) for a permission decision or
reads the caller's kind, admin standing or user access. What they still raise is listed below: a
thing that does not exist, asked after the policy let the caller reach it. Read from the source (AST)."""
from __future__ import annotations

import ast
from pathlib import Path

CHALICELIB = Path(__file__).resolve().parents[2] / "chalicelib"
MODULES = ("services/research.py", "services/capabilities.py", "services/sharing.py",
           "report_providers/launch.py", "oauth/viewer_launch.py")
REFUSALS = {"Forbidden", "NotFound", "AlbumNotFound", "StudyNotFound", "SeriesNotFound", "UserNotFound",
            "CapabilityNotFound"}
DECIDING = {"kind", "is_admin", "has_user_access", "ALBUM_SCOPED"}

# Existence misses, each with its reason: (module, function, what it raises).
ALLOWED = {
    # the held series asked for is not held (the caller is one of the album's admins)
    ("services/research.py", "release", "NotFound"),
    # no capability token has this id (who may see one that exists: policy.require_capability_reader)
    ("services/capabilities.py", "_by_id", "CapabilityNotFound"),
    # the album reached with DELETE_SERIES holds nothing of the study (or series)
    ("services/sharing.py", "remove_from_album", "SeriesNotFound"),
    ("services/sharing.py", "remove_from_album", "StudyNotFound"),
    # the caller's own inbox holds nothing of the study (or series)
    ("services/sharing.py", "remove", "SeriesNotFound"),
    ("services/sharing.py", "remove", "StudyNotFound"),
    # no report provider has this client id
    ("report_providers/launch.py", "_grant", "NotFound"),
}


def _findings(module: str) -> set[tuple[str, str, str]]:
    found = set()
    tree = ast.parse((CHALICELIB / module).read_text(), module)
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.Raise) and node.exc is not None:
                raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                found |= {(module, function.name, name.id) for name in ast.walk(raised)
                          if isinstance(name, ast.Name) and name.id in REFUSALS}
            elif isinstance(node, ast.Attribute) and node.attr in DECIDING:
                found.add((module, function.name, f"reads .{node.attr}"))
    return found


def test_these_services_refuse_nothing_by_themselves():
    found = set().union(*(_findings(m) for m in MODULES))
    assert found - ALLOWED == set()
    assert ALLOWED <= found, "an allowed existence miss is gone: remove it from ALLOWED"
