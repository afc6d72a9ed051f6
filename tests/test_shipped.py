"""What ships is usable: playbooks and inventories validate, every action is documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from ajudaplay.actions.base import default_registry
from ajudaplay.engine.options import RunOptions
from ajudaplay.engine.preflight import validate
from tests.markdown_sections import sections, table_rows

ROOT = Path(__file__).resolve().parent.parent
ACTION_DOCS = "\n".join(p.read_text() for p in sorted((ROOT / "docs").glob("actions-*.md")))
REGISTRY = default_registry()


@pytest.mark.parametrize("environment", sorted(p.name for p in (ROOT / "inventory").glob("*.yml")))
def test_shipped_playbooks_validate_against_each_environment(environment: str) -> None:
    problems = validate([ROOT / "playbooks", ROOT / "inventory"], REGISTRY, ROOT / "inventory" / environment, RunOptions()).diagnostics
    assert not problems, "\n".join(str(p) for p in problems)




def action_section(action: str) -> str:
    """The action's own documentation: its `## name` section, or its row in the service actions table."""
    return sections(ACTION_DOCS).get(action) or table_rows(ACTION_DOCS).get(action, "")


@pytest.mark.parametrize("action", REGISTRY.names())
def test_every_action_and_argument_is_documented(action: str) -> None:
    section = action_section(action)
    assert section, f"docs/actions-*.md has no section (heading or table row) for the action {action!r}"
    schema = REGISTRY.actions[action].schema
    branches = [schema, *schema.get("oneOf", []), *schema.get("anyOf", [])]
    arguments = {name for branch in branches for name in branch.get("properties", {})}
    missing = sorted(a for a in arguments if f"`{a}`" not in section)
    assert not missing, f"{action}: arguments not in its own section of docs/actions-*.md: {missing}"


def test_a_section_is_only_its_own_text() -> None:
    """The check above cannot pass on a name documented under another action."""
    doc = ("# A\n## one\n`x`\n```sh\n# not a heading\n```\n## two\n`y`\n\n| action | args |\n|---|---|\n"
           "| `three` | `z` |\n\n| field | meaning |\n|---|---|\n| `four` | `w` |\n")
    assert sections(doc)["one"].count("`x`") == 1 and "`y`" not in sections(doc)["one"]
    assert "`z`" in table_rows(doc)["three"] and "`z`" not in sections(doc)["one"]
    assert "not a heading" not in sections(doc)
    assert "four" not in table_rows(doc)  # a row of another kind of table
