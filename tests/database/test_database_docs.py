"""The database actions' registered data is documented once, and the document is the types.

docs/actions-database.md, "Registered data", has one row per database action:
its outcome type and its keys, which must be exactly that type's fields in
ajudaplay/outcomes.py (a new field is a doc change).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ajudaplay import outcomes
from ajudaplay.actions.base import Registry
from ajudaplay.actions.database import register
from tests.markdown_sections import registered_rows

DOC = Path(__file__).resolve().parents[2] / "docs" / "actions-database.md"


def _rows() -> dict[str, tuple[str, list[str]]]:
    return registered_rows(DOC.read_text(encoding="utf-8"))


def test_every_database_action_has_a_row_naming_its_outcome_type() -> None:
    registry = Registry()
    register(registry)
    rows = _rows()
    assert sorted(rows) == sorted(registry.names()) == sorted(cls.VERB for cls in outcomes.DATABASE_VERBS)
    for cls in outcomes.DATABASE_VERBS:
        assert rows[cls.VERB][0] == cls.__name__


@pytest.mark.parametrize("cls", outcomes.DATABASE_VERBS, ids=lambda cls: cls.VERB)
def test_the_documented_keys_are_the_outcome_fields(cls: type[outcomes.Outcome]) -> None:
    assert _rows()[cls.VERB][1] == cls.registered_keys()
