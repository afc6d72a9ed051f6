"""What ships is usable: playbooks and inventories validate, every action is documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from ajudaplay.actions.base import default_registry
from ajudaplay.validation import validate_paths

ROOT = Path(__file__).resolve().parent.parent
ACTION_DOCS = "\n".join(p.read_text() for p in sorted((ROOT / "docs").glob("actions-*.md")))
REGISTRY = default_registry()


@pytest.mark.parametrize("environment", sorted(p.name for p in (ROOT / "inventory").glob("*.yml")))
def test_shipped_playbooks_validate_against_each_environment(environment: str) -> None:
    problems = validate_paths([ROOT / "playbooks", ROOT / "inventory"], REGISTRY, ROOT / "inventory" / environment)
    assert not problems, "\n".join(str(p) for p in problems)


@pytest.mark.parametrize("action", REGISTRY.names())
def test_every_action_and_argument_is_documented(action: str) -> None:
    assert f"`{action}`" in ACTION_DOCS, f"docs/actions-*.md does not mention the action {action!r}"
    schema = REGISTRY.actions[action].schema
    branches = [schema, *schema.get("oneOf", []), *schema.get("anyOf", [])]
    arguments = {name for branch in branches for name in branch.get("properties", {})}
    missing = sorted(a for a in arguments if f"`{a}`" not in ACTION_DOCS)
    assert not missing, f"{action}: arguments not in docs/actions-*.md: {missing}"

