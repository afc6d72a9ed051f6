"""The target kinds are declared once (ajudaplay/kinds.py); everything that names them agrees."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest

from ajudaplay.errors import InvalidInput, NotApplicable
from ajudaplay.inventory.loader import KINDS, load_inventory
from ajudaplay.inventory.model import TargetKind
from ajudaplay.kinds import CONTROLLER_KINDS, IN_PROCESS_KINDS, KIND_NAMES, SERVICELESS_KINDS, USER_KINDS
from ajudaplay.schemas import inventory_schema
from ajudaplay.targets.factory import TARGET_CLASSES, target_class

ROOT = Path(__file__).resolve().parents[2]


def _source(module: str) -> str:
    """A module's text, found as a file (importing a package would run its imports)."""
    base = ROOT.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path.read_text()
    return ""


def test_the_model_literal_names_the_registered_kinds() -> None:
    assert get_args(TargetKind) == KIND_NAMES


def test_the_loader_and_the_factory_read_the_table() -> None:
    assert KINDS == KIND_NAMES
    assert tuple(TARGET_CLASSES) == KIND_NAMES
    for kind in KIND_NAMES:  # the class is where the table says (read, not imported: no client loads)
        modules, class_name = TARGET_CLASSES[kind]
        sources = [_source(m) for m in modules]
        assert any(f"class {class_name}(" in text for text in sources), (kind, modules)


def test_an_unknown_kind_is_refused_with_the_known_ones() -> None:
    with pytest.raises(NotApplicable, match="unknown target kind 'vm'; known: compose, fake, host, kubernetes"):
        target_class("vm")


def test_the_schema_has_a_mapping_and_a_branch_per_kind() -> None:
    target = inventory_schema()["$defs"]["target"]
    assert [branch["required"] for branch in target["oneOf"]] == [[k] for k in KIND_NAMES]
    assert set(KIND_NAMES) <= set(target["properties"])
    assert target["description"] == "Exactly one kind key: host, compose, kubernetes (or fake, for tests)."


def test_the_capabilities_of_each_kind() -> None:
    assert CONTROLLER_KINDS == ("host", "compose")
    assert IN_PROCESS_KINDS == ("fake",)
    assert SERVICELESS_KINDS == ("host",)
    assert USER_KINDS == ("host", "compose", "kubernetes")


def test_a_target_without_a_kind_is_told_the_user_facing_kinds(tmp_path: Path) -> None:
    path = tmp_path / "inv.yml"
    path.write_text("targets:\n  web:\n    services: {}\n")
    with pytest.raises(InvalidInput) as caught:
        load_inventory(path)
    hints = [d.hint for d in caught.value.diagnostics if "kind" in d.message]
    assert hints == ["kinds: compose, host, kubernetes"], caught.value.diagnostics


def test_every_kind_loads_from_an_inventory(tmp_path: Path) -> None:
    path = tmp_path / "inv.yml"
    path.write_text(
        "targets:\n"
        "  h: {host: '@local'}\n"
        "  c: {compose: {project_dir: /tmp/x}}\n"
        "  k: {kubernetes: {namespace: ns}}\n"
        "  f: {fake: {}}\n"
    )
    inventory = load_inventory(path)
    assert sorted(spec.kind for spec in inventory.targets.values()) == sorted(KIND_NAMES)
