"""The endpoints action's registered data is documented once, and the document is the type.

docs/actions-network.md, "Registered data", has one row per network verb: its
outcome type and its keys, which must be exactly that type's fields in
ajudaplay/outcomes.py (a new field is a doc change).
"""

from __future__ import annotations

import re
from pathlib import Path

from ajudaplay import outcomes
from tests.markdown_sections import sections

DOC = Path(__file__).resolve().parents[2] / "docs" / "actions-network.md"


def _rows() -> dict[str, tuple[str, list[str]]]:
    rows: dict[str, tuple[str, list[str]]] = {}
    for line in sections(DOC.read_text(encoding="utf-8"))["Registered data"].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = (cells[1].strip("`"), re.findall(r"`([a-z_0-9]+)`", cells[2]))
    return rows


def test_the_endpoints_row_names_its_outcome_and_exactly_its_fields() -> None:
    rows = _rows()
    cls = outcomes.EndpointsOutcome
    assert cls in outcomes.INCIDENT_VERBS
    assert rows[cls.VERB] == (cls.__name__, cls.registered_keys())
