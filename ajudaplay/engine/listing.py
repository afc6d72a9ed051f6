"""`--list-tasks` and `--list-targets`: what a run would do, printed from its Plan.

The listings read the same Plan the run executes (engine/plan.py), so they
honour --tags/--skip-tags/--limit/--start-at-step exactly as the run does:
a faithful preview. Plain text, stable: scripts grep it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ajudaplay.engine.plan_walk import leaves

if TYPE_CHECKING:
    from ajudaplay.engine.plan import Plan


def list_targets(plan: Plan) -> list[str]:
    """One header line per play, then its targets indented."""
    lines = [f"playbook: {plan.playbook.path}"]
    for planned in plan.plays:
        play = planned.play
        lines.append(f"  play #{planned.index} ({play.hosts}): {play.name}    TARGETS: {len(planned.targets)}")
        lines.extend(f"    {name}" for name in planned.targets)
    return lines


def list_tasks(plan: Plan) -> list[str]:
    """One header line per play, then each task that would run (in some batch), with its tags."""
    lines = [f"playbook: {plan.playbook.path}"]
    for planned in plan.plays:
        play = planned.play
        lines.append(f"  play #{planned.index} ({play.hosts}): {play.name}    TAGS: [{','.join(play.tags)}]")
        for node in leaves(planned.tasks):
            if planned.listed(node):
                lines.append(f"    {node.task.name}    TAGS: [{','.join(sorted(set(node.task.tags)))}]")
        for handler in planned.handlers:
            lines.append(f"    handler: {handler.task.name}")
    return lines
