"""Host patterns as Ansible writes them: all, groups, targets, a:b, a:&b, a:!b, globs, commas.

Plain terms are united first, then `&` terms intersect, then `!` terms exclude
(Ansible's order). An unknown name is an error with a did-you-mean, never an
empty selection: a typo in `--limit` must not silently run nothing.
"""

from __future__ import annotations

import fnmatch
import re

from ajudaplay.errors import Diagnostic, InvalidInput, Mark
from ajudaplay.inventory.groups import ALL, group_targets
from ajudaplay.inventory.model import Inventory
from ajudaplay.schema_diagnostics import did_you_mean

_GLOB = re.compile(r"[*?\[]")


def select_targets(inventory: Inventory, pattern: str, mark: Mark | None = None) -> list[str]:
    """Names of the targets a pattern selects, in inventory order."""
    terms = [t.strip() for t in re.split(r"[,:]", pattern)]
    terms = [t for t in terms if t]
    if not terms:
        raise InvalidInput([Diagnostic(mark, f"empty host pattern {pattern!r}", "use `all`, a group or a target name")])
    plain = [t for t in terms if t[0] not in "&!"]
    intersect = [t[1:] for t in terms if t[0] == "&"]
    exclude = [t[1:] for t in terms if t[0] == "!"]
    problems: list[Diagnostic] = []
    selected: set[str] = set()
    for term in plain or [ALL]:
        selected |= _resolve(inventory, term, pattern, mark, problems)
    for term in intersect:
        selected &= _resolve(inventory, term, pattern, mark, problems)
    for term in exclude:
        selected -= _resolve(inventory, term, pattern, mark, problems)
    if problems:
        raise InvalidInput(problems)
    return [name for name in inventory.targets if name in selected]


def _resolve(inventory: Inventory, term: str, pattern: str, mark: Mark | None, problems: list[Diagnostic]) -> set[str]:
    if term in (ALL, "*"):
        return set(inventory.targets)
    if term in inventory.groups:
        return group_targets(inventory, term)
    if term in inventory.targets:
        return {term}
    known = sorted({*inventory.targets, *inventory.groups, ALL})
    context = f" in pattern {pattern!r}" if pattern != term else ""
    if _GLOB.search(term):
        found: set[str] = set()
        matched = False  # a glob that matches only an empty group is no typo, like that group's name
        for name in inventory.targets:
            if fnmatch.fnmatchcase(name, term):
                found.add(name)
                matched = True
        for name in inventory.groups:
            if fnmatch.fnmatchcase(name, term):
                found |= group_targets(inventory, name)
                matched = True
        if not matched:
            problems.append(Diagnostic(mark, f"{term!r}{context} matches no target or group", _known(known)))
        return found
    hint = did_you_mean(term, known)
    problems.append(Diagnostic(
        mark, f"unknown target or group {term!r}{context} in inventory {inventory.name!r}",
        f"{hint} {_known(known)}".strip(),
    ))
    return set()


def _known(names: list[str]) -> str:
    shown = ", ".join(names[:30]) + (", ..." if len(names) > 30 else "")
    return f"known: {shown}"
