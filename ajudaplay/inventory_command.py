"""`ajudaplay inventory -i ENV --list|--graph|--names`: what an environment holds, as ansible-inventory shows it.

Read-only: it loads the inventory the way `run` does (so it refuses the same
problems) and connects to nothing. Variables are shown as written (templates
unrendered: rendering needs the playbook's layers too), and every secret is
masked twice over: a variable the inventory names secret is `********` whole,
and the run's Redactor rules (inventory.secret_values) mask secret values
wherever else they appear (a connection setting, another variable).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TextIO

from ajudaplay.errors import Diagnostic, InvalidInput
from ajudaplay.exitcodes import ExitCode
from ajudaplay.redaction import PLACEHOLDER, Redactor

if TYPE_CHECKING:
    from ajudaplay.inventory.model import Inventory

UNGROUPED = "ungrouped"  # ansible-inventory's name for the targets no group lists


def cmd_inventory(args: argparse.Namespace, registry_factory: Callable[[], Any]) -> int:
    from ajudaplay.inventory.loader import load_inventory, resolve_inventory_arg

    if args.output == "json" and not args.list:
        raise InvalidInput([Diagnostic(None, "--output json goes with --list",
                                       "--graph and --names print plain lines; `--list --output json` prints the data")])
    inventory = load_inventory(resolve_inventory_arg(args.inventory, Path.cwd()))
    if args.names:
        lines = names(inventory, args.names)
    elif args.graph:
        lines = graph(inventory)
    elif args.output == "json":
        lines = [json.dumps(listing(inventory), indent=2, ensure_ascii=False, default=str)]
    else:
        lines = table(listing(inventory))
    write_lines(lines, sys.stdout)
    return int(ExitCode.OK)


def write_lines(lines: list[str], stream: TextIO) -> None:
    for line in lines:
        stream.write(line + "\n")


def names(inventory: Inventory, kind: str) -> list[str]:
    """Target, group or service names, sorted, one a line (shell completion reads these)."""
    if kind == "targets":
        return sorted(inventory.targets)
    if kind == "groups":
        from ajudaplay.inventory.groups import ALL

        return sorted({ALL, *inventory.groups})
    return sorted({service for spec in inventory.targets.values() for service in spec.services})


def listing(inventory: Inventory) -> dict[str, Any]:
    """The environment as data: every target (kind, groups, services, connection, variables) and group."""
    from ajudaplay.inventory.groups import ALL, groups_of
    from ajudaplay.inventory.vars import var_layers

    redactor = Redactor(list(inventory.secret_values))

    def masked(variables: dict[str, Any]) -> dict[str, Any]:
        shown = {k: PLACEHOLDER if k in inventory.secret_names else v for k, v in variables.items()}
        return dict(redactor.data(shown))

    targets = {}
    for name, spec in sorted(inventory.targets.items()):
        merged: dict[str, Any] = {}
        for layer, _ in var_layers(inventory, name):
            merged.update(layer)
        targets[name] = {
            "kind": spec.kind,
            "groups": [g for g in groups_of(inventory, name) if g != ALL],
            "services": redactor.data(spec.services),
            "connection": redactor.data(spec.connection),
            "vars": masked(merged),
        }
    groups = {
        name: {"targets": list(group.targets), "children": list(group.children), "vars": masked(group.vars)}
        for name, group in sorted(inventory.groups.items())
    }
    return {
        "environment": inventory.name,
        "path": str(inventory.path),
        "vars": masked(inventory.vars),
        "targets": targets,
        "groups": groups,
        "secret_vars": sorted(inventory.secret_names),
    }


def table(data: dict[str, Any]) -> list[str]:
    """`--list` for humans: a table of targets, then each target's variables (secrets masked)."""
    headers = ["TARGET", "KIND", "GROUPS", "SERVICES"]
    rows = [[name, t["kind"], ", ".join(t["groups"]) or "-", ", ".join(t["services"]) or "-"]
            for name, t in data["targets"].items()]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = [f"environment {data['environment']} ({data['path']})", ""]
    lines += ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(cells)).rstrip() for cells in [headers, *rows]]
    for name, target in data["targets"].items():
        lines += ["", f"{name} variables:"]
        lines += [f"  {key} = {_scalar(value)}" for key, value in sorted(target["vars"].items())] or ["  (none)"]
    if data["secret_vars"]:
        lines += ["", f"secret variables (masked): {', '.join(data['secret_vars'])}"]
    return lines


def _scalar(value: Any) -> str:
    """A value on one line: strings as they are, everything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def graph(inventory: Inventory) -> list[str]:
    """`--graph`: `@all:` and its groups, nested, with their targets, as ansible-inventory --graph draws them."""
    from ajudaplay.inventory.groups import ALL

    others = {name: group for name, group in inventory.groups.items() if name != ALL}  # `all` is the root
    included = {child for group in others.values() for child in group.children}
    listed = {target for group in others.values() for target in group.targets}
    lines = [f"@{ALL}:"]

    def draw(group: str, depth: int, trail: frozenset[str]) -> None:
        lines.append(f"{'  |' * depth}--@{group}:")
        if group in trail:  # the loader refuses cycles; never loop on one anyway
            return
        spec = inventory.groups[group]
        for child in sorted(spec.children):
            draw(child, depth + 1, trail | {group})
        lines.extend(f"{'  |' * (depth + 1)}--{target}" for target in sorted(spec.targets))

    for group in sorted(set(others) - included):
        draw(group, 1, frozenset())
    ungrouped = sorted(set(inventory.targets) - listed)
    if ungrouped:
        lines.append(f"  |--@{UNGROUPED}:")
        lines.extend(f"  |  |--{target}" for target in ungrouped)
    return lines
