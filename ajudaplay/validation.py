"""`ajudaplay validate PATH...`: check playbooks and inventories without running anything.

A folder means every *.yml/*.yaml under it (hidden folders skipped). A YAML list
is a playbook, a mapping with `targets` is an inventory; anything else is an
error saying what was expected. These are the checks of each file on its own;
`ajudaplay validate` then gives every valid playbook to the plan stage
(engine/preflight.py `validate`), the same checks `run` makes before it
touches a target.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ajudaplay.errors import Diagnostic, InvalidInput, Mark

if TYPE_CHECKING:
    from ajudaplay.actions.base import Registry
    from ajudaplay.inventory.model import Inventory
    from ajudaplay.playbook.model import Playbook
    from ajudaplay.schemas import SchemaValidator

YAML_SUFFIXES = (".yml", ".yaml")


def collect_files(paths: list[Path]) -> tuple[list[Path], list[Diagnostic]]:
    """The YAML files named by `paths` (folders searched recursively), and missing paths."""
    files: list[Path] = []
    problems: list[Diagnostic] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*")
                if p.suffix in YAML_SUFFIXES and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                problems.append(Diagnostic(None, f"{path}: no *.yml or *.yaml files in this folder"))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Diagnostic(None, f"{path}: no such file or folder"))
    return list(dict.fromkeys(files)), problems


@dataclass
class CheckedFiles:
    """Problems of each file on its own, and what loaded cleanly (for the plan stage)."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    playbooks: list[Playbook] = field(default_factory=list)  # every playbook file without problems
    inventory: Inventory | None = None  # the `-i` inventory, when it loaded


def check_files(paths: list[Path], registry: Registry, inventory: Path | None = None) -> CheckedFiles:
    """Every problem in the given playbooks/inventories, file by file, and the valid playbooks' models."""
    from ajudaplay.inventory.loader import load_inventory

    checked = CheckedFiles()
    if inventory is not None:
        try:
            checked.inventory = load_inventory(inventory)
        except InvalidInput as exc:
            checked.diagnostics.extend(exc.diagnostics)
    files, problems = collect_files(paths)
    checked.diagnostics.extend(problems)
    validators: dict[str, SchemaValidator] = {}  # the playbook schema is composed once for all files
    for file in files:
        if inventory is not None and file.resolve() == inventory.resolve():
            continue  # already checked above
        found, playbook = check_file(file, registry, validators)
        checked.diagnostics.extend(found)
        if playbook is not None:
            checked.playbooks.append(playbook)
    unique: list[Diagnostic] = []
    seen: set[str] = set()
    for diagnostic in checked.diagnostics:
        if str(diagnostic) not in seen:
            seen.add(str(diagnostic))
            unique.append(diagnostic)
    checked.diagnostics = unique
    return checked


def check_file(
    file: Path, registry: Registry, validators: dict[str, SchemaValidator] | None = None,
) -> tuple[list[Diagnostic], Playbook | None]:
    """Problems of one file, detecting whether it is a playbook or an inventory; a valid playbook's model."""
    from ajudaplay.inventory.loader import check_inventory_document
    from ajudaplay.playbook.loader import build_playbook, check_playbook_document, playbook_validator
    from ajudaplay.yamlmarks import load_yaml_file

    try:
        doc = load_yaml_file(file, strict=False)
    except InvalidInput as exc:
        return exc.diagnostics, None
    if isinstance(doc.data, list):
        validators = validators if validators is not None else {}
        if "playbook" not in validators:
            validators["playbook"] = playbook_validator(registry)
        found = check_playbook_document(doc, registry, validators["playbook"])
        return found, (None if found else build_playbook(doc, file, registry))
    if isinstance(doc.data, dict) and "targets" in doc.data:
        _, found = check_inventory_document(doc, file)
        return found, None
    got = _shape(doc.data)
    return [Diagnostic(
        Mark(str(file), 1, 1),
        f"expected a playbook (a list of plays) or an inventory (a mapping with `targets:`), got {got}",
        "a playbook starts with `- hosts: ...`; an inventory has a top-level `targets:`",
    )], None


def _shape(data: Any) -> str:
    if data is None:
        return "an empty file"
    if isinstance(data, dict):
        keys = ", ".join(str(k) for k in list(data)[:5])
        return f"a mapping with keys {keys}" if keys else "an empty mapping"
    return f"a single value ({type(data).__name__})"
