"""Configuration enters through `chalicelib/config.py` only, when first asked, never at import: no other
module reads the environment, and nothing is read from `settings()` while a module is imported, but
the queues Chalice subscribes functions to (fixed at deployment). `config.reset()` is the one way a test
points the process at another environment: settings, the models' tables and region, boto3 clients."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from chalicelib import config

ROOT = Path(__file__).resolve().parents[2]
# Chalice reads a function's queue when the app is packaged: these stay decorator arguments.
SUBSCRIPTIONS = {"app.py", "chalicelib/api/uploads.py"}


def _sources() -> list[Path]:
    return [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]


def _import_time_reads(tree: ast.AST) -> list[int]:
    """Lines where a module calls `settings()` outside any function body."""
    lines = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                for decorator in getattr(child, "decorator_list", []):
                    visit(decorator)
                continue
            if isinstance(child, ast.Call) and ast.unparse(child.func).split(".")[-1] == "settings":
                lines.append(child.lineno)
            visit(child)

    visit(tree)
    return lines


def test_only_config_reads_the_environment():
    readers = []
    for path in _sources():
        if path == ROOT / "chalicelib" / "config.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and ast.unparse(node) in ("os.environ", "os.getenv"):
                readers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert readers == []


def test_nothing_is_read_from_the_settings_at_import():
    found = {}
    for path in _sources():
        lines = _import_time_reads(ast.parse(path.read_text(), str(path)))
        if lines:
            found[str(path.relative_to(ROOT))] = lines
    assert set(found) <= SUBSCRIPTIONS, found


@pytest.fixture
def elsewhere(monkeypatch):
    """Another stage in another region, then back."""
    monkeypatch.setenv("OBELISK_STAGE", "elsewhere")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-2")
    yield
    monkeypatch.undo()
    config.reset()


def test_reset_points_models_and_clients_at_the_new_configuration(elsewhere):
    from chalicelib.store import aws
    from chalicelib.store.models import Album, UserProfile

    config.reset()
    assert (UserProfile.Meta.table_name, Album.Meta.table_name) == ("obelisk-elsewhere-users", "obelisk-elsewhere-albums")
    assert UserProfile._get_connection().connection.region == "eu-central-2"
    assert aws.client("sqs").meta.region_name == "eu-central-2"


def test_reset_forgets_what_was_built_from_the_previous_configuration():
    from chalicelib.store import aws
    from chalicelib.store.models import UserProfile

    before = (aws.client("s3"), UserProfile._get_connection())
    config.reset()
    assert aws.client("s3") is not before[0] and UserProfile._get_connection() is not before[1]
    assert (aws.client("s3"), UserProfile._get_connection()) == (aws.client("s3"), UserProfile._get_connection())
