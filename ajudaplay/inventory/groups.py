"""Group membership: nested groups resolved to targets, depths for variable layering, cycles.

The implicit group `all` contains every target and sits at depth 0; a group no
other group includes sits at depth 1; a child is one deeper than its deepest parent.
"""

from __future__ import annotations

from ajudaplay.inventory.model import Group, Inventory

ALL = "all"


def find_cycle(groups: dict[str, Group]) -> list[str] | None:
    """A list like ["a", "b", "a"] if nested groups include each other, else None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(name: str, trail: list[str]) -> list[str] | None:
        if state.get(name) == 1:
            return [*trail[trail.index(name):], name]
        if state.get(name) == 2 or name not in groups:
            return None
        state[name] = 1
        for child in groups[name].children:
            cycle = visit(child, [*trail, name])
            if cycle:
                return cycle
        state[name] = 2
        return None

    for group_name in groups:
        found = visit(group_name, [])
        if found:
            return found
    return None


def group_targets(inventory: Inventory, group: str) -> set[str]:
    """Every target in a group, through nested children (cycle-safe)."""
    if group == ALL:
        return set(inventory.targets)
    members: set[str] = set()
    pending = [group]
    visited: set[str] = set()
    while pending:
        name = pending.pop()
        if name in visited or name not in inventory.groups:
            continue
        visited.add(name)
        members.update(inventory.groups[name].targets)
        pending.extend(inventory.groups[name].children)
    return members


def group_depths(inventory: Inventory) -> dict[str, int]:
    """Depth of each group: `all` 0, top-level groups 1, children deeper than every parent."""
    parents: dict[str, list[str]] = {name: [] for name in inventory.groups}
    for name, group in inventory.groups.items():
        for child in group.children:
            parents.setdefault(child, []).append(name)
    depths: dict[str, int] = {}

    def depth(name: str, seen: frozenset[str]) -> int:
        if name == ALL:
            return 0
        if name in depths:
            return depths[name]
        above = [p for p in parents.get(name, []) if p != ALL and p not in seen]
        value = 1 + max((depth(p, seen | {name}) for p in above), default=0)
        depths[name] = value
        return value

    for group_name in inventory.groups:
        depth(group_name, frozenset())
    depths[ALL] = 0
    return depths


def groups_of(inventory: Inventory, target: str) -> list[str]:
    """The groups a target belongs to (directly or through children), parents before children."""
    depths = group_depths(inventory)
    member_of = [name for name in inventory.groups if target in group_targets(inventory, name)]
    return sorted(member_of, key=lambda name: (depths.get(name, 1), name))
