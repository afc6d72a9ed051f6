"""Variables of one target: inventory < groups (parents before children) < target, plus magic ones."""

from __future__ import annotations

import copy
from typing import Any

from ajudaplay.errors import Diagnostic, InvalidInput
from ajudaplay.inventory.groups import ALL, groups_of
from ajudaplay.inventory.model import Inventory

MAGIC_VARIABLES = ("inventory_name", "target_name", "target_kind", "groups")


def vars_for(inventory: Inventory, target_name: str) -> dict[str, Any]:
    """The layered variables of a target; later layers win, magic variables win over all."""
    target = inventory.targets.get(target_name)
    if target is None:
        raise InvalidInput([Diagnostic(None, f"unknown target {target_name!r}")])
    layered: dict[str, Any] = copy.deepcopy(inventory.vars)
    member_of = groups_of(inventory, target_name)
    for group_name in member_of:
        layered.update(copy.deepcopy(inventory.groups[group_name].vars))
    layered.update(copy.deepcopy(target.vars))
    layered.update(
        inventory_name=inventory.name,
        target_name=target_name,
        target_kind=target.kind,
        groups=[name for name in member_of if name != ALL],
    )
    return layered
