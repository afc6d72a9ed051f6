"""Fixtures for parsing/validation tests: a tiny action registry whose schemas live in tests/validation/actions/."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ajudaplay.actions.base import ActionSpec, Registry

HERE = Path(__file__).parent
ACTIONS = HERE / "actions"
FREE_FORM = {"command": "cmd"}


@dataclass(frozen=True)
class FileActionSpec(ActionSpec):
    """An action whose argument schema is a test file instead of a package resource."""

    schema_file: Path = ACTIONS / "ping.json"

    @property
    def schema(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.schema_file.read_text())
        return loaded


def _not_run(ctx: Any, args: Any) -> Any:
    raise AssertionError("validation tests never run actions")


def make_registry() -> Registry:
    """deploy, scale, restart, command (free form), debug, ping."""
    registry = Registry()
    for schema_file in sorted(ACTIONS.glob("*.json")):
        name = schema_file.stem
        registry.register(FileActionSpec(name=name, run=_not_run, free_form=FREE_FORM.get(name), schema_file=schema_file))
    return registry


@pytest.fixture
def registry() -> Registry:
    return make_registry()
