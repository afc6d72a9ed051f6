"""The PLAY RECAP table, one line per target: printed by the run's console and by `ajudaplay show`.

One function builds the line (as styled parts), so the recap after a run and
the one `show RUN` prints from the journal are the same table; both count one
result per reported TaskResult (a loop item, the lock step, a rescued failure).
"""

from __future__ import annotations

import json
from typing import Any

from ajudaplay.report.common import STAT_NAMES
from ajudaplay.report.lines import Part

STATUS_STYLE = {
    "ok": "green",
    "changed": "yellow",
    "failed": "bold red",
    "unreachable": "bold red",
    "skipped": "cyan",
    "ignored": "cyan",
    "rescued": "magenta",
    "rolled_back": "bold white on red",
    "interrupted": "bold yellow",
}


def worst(counts: dict[str, int]) -> str:
    """The status a target's name is coloured with."""
    if counts.get("failed") or counts.get("unreachable"):
        return "failed"
    if counts.get("interrupted"):
        return "interrupted"
    return "changed" if counts.get("changed") else "ok"


def recap_line(target: str, counts: dict[str, int], width: int, lock_lost: bool = False) -> list[Part]:
    """`api   :  ok=3    changed=1    failed=0 ...`, each count styled when it is not zero."""
    line: list[Part] = [(target.ljust(width), STATUS_STYLE[worst(counts)]), (" :", "")]
    for index, name in enumerate(STAT_NAMES):
        value = counts.get(name, 0)
        cell = f"{name}={value}"
        line.append(("  " + (cell if index == len(STAT_NAMES) - 1 else cell.ljust(len(name) + 4)),
                     STATUS_STYLE[name] if value else ""))
    if lock_lost:  # the run did not hold this target to the end: say so where one looks
        line.append(("  LOCK LOST", "bold red"))
    return line


def recap_lines(stats: dict[str, dict[str, int]], lock_lost: frozenset[str] | set[str] = frozenset()) -> list[list[Part]]:
    """The table's lines, targets sorted."""
    width = max((len(target) for target in stats), default=0)
    return [recap_line(target, stats[target], width, target in lock_lost) for target in sorted(stats)]


def plain(line: list[Part]) -> str:
    """A line's text without styles (for `show`, which never colours)."""
    return "".join(text for text, _ in line)


def item_text(item: Any) -> str:
    """A loop item (or its label) as output shows it: a string as is, anything else as compact JSON."""
    return item if isinstance(item, str) else json.dumps(item, default=str, ensure_ascii=False)
