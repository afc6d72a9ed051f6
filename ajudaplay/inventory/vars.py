"""Variables of one target: inventory < groups (parents before children) < target, plus magic ones."""

from __future__ import annotations

import copy
from typing import Any

from ajudaplay.errors import Diagnostic, InvalidInput, Mark
from ajudaplay.inventory.groups import ALL, groups_of
from ajudaplay.inventory.model import Inventory

MAGIC_VARIABLES = ("inventory_name", "target_name", "target_kind", "groups")


def var_layers(inventory: Inventory, target_name: str) -> list[tuple[dict[str, Any], Mark | None]]:
    """A target's variable layers, lowest first, each with where it was written (for errors)."""
    target = inventory.targets.get(target_name)
    if target is None:
        raise InvalidInput([Diagnostic(None, f"unknown target {target_name!r}")])
    layers: list[tuple[dict[str, Any], Mark | None]] = [(copy.deepcopy(inventory.vars), inventory.vars_mark)]
    for group_name in groups_of(inventory, target_name):
        group = inventory.groups[group_name]
        layers.append((copy.deepcopy(group.vars), group.mark))
    layers.append((copy.deepcopy(target.vars), target.mark))
    return layers


def magic_vars(inventory: Inventory, target_name: str) -> dict[str, Any]:
    """What the inventory itself says of a target; wins over every inventory layer."""
    return {
        "inventory_name": inventory.name,
        "target_name": target_name,
        "target_kind": inventory.targets[target_name].kind,
        "groups": [name for name in groups_of(inventory, target_name) if name != ALL],
    }


def vars_for(inventory: Inventory, target_name: str) -> dict[str, Any]:
    """The layered variables of a target as written (unrendered); later layers win, magic ones over all."""
    layered: dict[str, Any] = {}
    for layer, _ in var_layers(inventory, target_name):
        layered.update(layer)
    layered.update(magic_vars(inventory, target_name))
    return layered
