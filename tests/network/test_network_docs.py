"""The endpoints action's registered data is documented once, and the document is the type.

docs/actions-network.md, "Registered data", has one row per network verb: its
outcome type and its keys, which must be exactly that type's fields in
ajudaplay/outcomes.py (a new field is a doc change).
"""

from __future__ import annotations

from pathlib import Path

from ajudaplay import outcomes
from tests.markdown_sections import registered_rows

DOC = Path(__file__).resolve().parents[2] / "docs" / "actions-network.md"


def test_the_endpoints_row_names_its_outcome_and_exactly_its_fields() -> None:
    rows = registered_rows(DOC.read_text(encoding="utf-8"))
    cls = outcomes.EndpointsOutcome
    assert cls in outcomes.INCIDENT_VERBS
    assert rows[cls.VERB] == (cls.__name__, cls.registered_keys())
