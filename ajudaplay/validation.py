"""`ajudaplay validate PATH...`: check playbooks and inventories without running anything.

A folder means every *.yml/*.yaml under it (hidden folders skipped). A YAML list
is a playbook, a mapping with `targets` is an inventory; anything else is an
error saying what was expected. With an inventory, every play's `hosts` pattern
must name targets or groups that exist in it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ajudaplay.errors import Diagnostic, InvalidInput, Mark

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

    from ajudaplay.actions.base import Registry
    from ajudaplay.inventory.model import Inventory

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


def validate_paths(paths: list[Path], registry: Registry, inventory: Path | None = None) -> list[Diagnostic]:
    """Every problem in the given playbooks/inventories (empty list: all valid)."""
    from ajudaplay.inventory.loader import load_inventory

    diagnostics: list[Diagnostic] = []
    loaded_inventory: Inventory | None = None
    if inventory is not None:
        try:
            loaded_inventory = load_inventory(inventory)
        except InvalidInput as exc:
            diagnostics.extend(exc.diagnostics)
    files, problems = collect_files(paths)
    diagnostics.extend(problems)
    validators: dict[str, Validator] = {}  # the playbook schema is composed once for all files
    for file in files:
        if inventory is not None and file.resolve() == inventory.resolve():
            continue  # already checked above
        diagnostics.extend(validate_file(file, registry, loaded_inventory, validators))
    unique: list[Diagnostic] = []
    seen: set[str] = set()
    for diagnostic in diagnostics:
        if str(diagnostic) not in seen:
            seen.add(str(diagnostic))
            unique.append(diagnostic)
    return unique


def validate_file(
    file: Path, registry: Registry, inventory: Inventory | None = None, validators: dict[str, Validator] | None = None,
) -> list[Diagnostic]:
    """Problems of one file, detecting whether it is a playbook or an inventory."""
    from ajudaplay.inventory.loader import check_inventory_document
    from ajudaplay.playbook.loader import check_playbook_document, playbook_validator
    from ajudaplay.yamlmarks import load_yaml_file

    try:
        doc = load_yaml_file(file, strict=False)
    except InvalidInput as exc:
        return exc.diagnostics
    if isinstance(doc.data, list):
        validators = validators if validators is not None else {}
        if "playbook" not in validators:
            validators["playbook"] = playbook_validator(registry)
        found = check_playbook_document(doc, registry, validators["playbook"])
        if inventory is not None and not found:
            found.extend(_host_patterns(doc.data, doc.marks, inventory, str(file)))
        return found
    if isinstance(doc.data, dict) and "targets" in doc.data:
        _, found = check_inventory_document(doc, file)
        return found
    got = _shape(doc.data)
    return [Diagnostic(
        Mark(str(file), 1, 1),
        f"expected a playbook (a list of plays) or an inventory (a mapping with `targets:`), got {got}",
        "a playbook starts with `- hosts: ...`; an inventory has a top-level `targets:`",
    )]


def _shape(data: Any) -> str:
    if data is None:
        return "an empty file"
    if isinstance(data, dict):
        keys = ", ".join(str(k) for k in list(data)[:5])
        return f"a mapping with keys {keys}" if keys else "an empty mapping"
    return f"a single value ({type(data).__name__})"


def _host_patterns(plays: list[Any], marks: dict[Any, Mark], inventory: Inventory, file: str) -> list[Diagnostic]:
    """Each play's `hosts` must resolve in the inventory (templated patterns are skipped)."""
    from ajudaplay.inventory.patterns import select_targets

    found: list[Diagnostic] = []
    for index, play in enumerate(plays):
        hosts = play.get("hosts") if isinstance(play, dict) else None
        if not isinstance(hosts, str) or "{{" in hosts:
            continue
        mark = marks.get((index, "hosts"), Mark(file, 1, 1))
        try:
            select_targets(inventory, hosts, mark)
        except InvalidInput as exc:
            found.extend(Diagnostic(d.mark, d.message, d.hint, f"plays[{index}].hosts") for d in exc.diagnostics)
    return found
