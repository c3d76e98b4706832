"""docs/security.md's rights table is what the reference model says (tests/model/rights_table.py)."""
from __future__ import annotations

from tests.model import rights_table


def test_the_committed_rights_table_is_the_models():
    committed = rights_table.DOC.read_text()
    assert committed == rights_table.rendered(committed), (
        "docs/security.md differs from the model: run `python -m tests.model.rights_table` and commit")
