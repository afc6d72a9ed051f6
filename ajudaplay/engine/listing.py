"""`--list-tasks` and `--list-targets`: what a run would do, as plain text lines.

Honours --tags/--skip-tags/--limit like the run itself, so the listing is a
faithful preview. Plain text, stable: scripts grep it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator, Sequence

from ajudaplay.engine.selection import tag_selected

if TYPE_CHECKING:
    from ajudaplay.engine.options import RunOptions
    from ajudaplay.playbook.model import Playbook, Task


def list_targets(playbook: Playbook, selections: list[list[str]]) -> list[str]:
    """One header line per play, then its targets indented."""
    lines = [f"playbook: {playbook.path}"]
    for index, (play, names) in enumerate(zip(playbook.plays, selections), 1):
        lines.append(f"  play #{index} ({play.hosts}): {play.name}    TARGETS: {len(names)}")
        lines.extend(f"    {name}" for name in names)
    return lines


def list_tasks(playbook: Playbook, options: RunOptions) -> list[str]:
    """One header line per play, then each task that would run, with its tags."""
    lines = [f"playbook: {playbook.path}"]
    for index, play in enumerate(playbook.plays, 1):
        lines.append(f"  play #{index} ({play.hosts}): {play.name}    TAGS: [{','.join(play.tags)}]")
        for task, tags, depth in _walk(play.tasks, frozenset(play.tags), 2):
            if tag_selected(tags, options.tags, options.skip_tags):
                lines.append(f"{'  ' * depth}{task.name}    TAGS: [{','.join(sorted(set(task.tags)))}]")
        for handler in play.handlers:
            lines.append(f"    handler: {handler.name}")
    return lines


def _walk(tasks: Sequence[Task], inherited: frozenset[str], depth: int) -> Iterator[tuple[Task, frozenset[str], int]]:
    for task in tasks:
        tags = inherited | frozenset(task.tags)
        if task.is_block:
            for section in (task.block or [], task.rescue, task.always):
                yield from _walk(section, tags, depth)
        else:
            yield task, tags, depth
