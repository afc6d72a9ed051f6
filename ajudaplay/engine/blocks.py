"""Execute a play's task tree (the Plan's nodes) in lockstep over targets: each task on all live targets, then the next.

Blocks follow Ansible: a failure inside `block` sends that target to `rescue`;
a successful rescue clears the failure (counted `rescued`); `always` runs for
every target that entered the block, failed or not, and nesting works.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Sequence

from ajudaplay.engine.events import TaskResult, TaskStarted
from ajudaplay.engine.fanout import fan_out
from ajudaplay.engine.plan_walk import Node
from ajudaplay.engine.plan_walk import Scope
from ajudaplay.engine.step import run_step
from ajudaplay.engine.variables import is_template_value, step_vars
from ajudaplay.errors import AjudaplayError, Interrupted
from ajudaplay.targets.base import Result

MAX_FAILED_MSG = 2000  # characters of the failure a rescue sees (a traceback-long message stays readable)

if TYPE_CHECKING:
    from ajudaplay.engine.state import RunContext, TargetState
    from ajudaplay.playbook.model import Play, Task


def run_tasks(
    rc: RunContext, play: Play, nodes: Sequence[Node], targets: Sequence[TargetState],
    skipped: frozenset[int] = frozenset(),
) -> None:
    """Run the Plan's `nodes` in order, each on the targets of `targets` that are still alive.

    A task --tags/--skip-tags dropped, or whose index is in `skipped` (what
    --start-at-step skips in this batch), is not started; handlers always are.
    """
    for node in nodes:
        rc.check_interrupt()
        alive = [ts for ts in targets if ts.alive]
        if not alive:
            return
        if node.is_block:
            run_block(rc, play, node, alive, skipped)
        elif node.handler or (node.selected and node.index not in skipped):
            run_task_on(rc, play, node, alive)


def run_block(
    rc: RunContext, play: Play, block: Node, targets: Sequence[TargetState], skipped: frozenset[int] = frozenset(),
) -> None:
    """block, then rescue for the targets that failed in it, then always for all who entered."""
    entered = list(targets)
    try:
        run_tasks(rc, play, block.block, entered, skipped)
        # the failure of each of these was reported (and counted) as "rescued" already (step.py)
        failed_now = [ts for ts in entered if ts.failed and not ts.unreachable and ts.lock_held is None and not ts.lock_lost]
        if block.rescue and failed_now:
            for ts in failed_now:
                ts.failed = False
            run_tasks(rc, play, block.rescue, failed_now, skipped)
    finally:
        if block.always and not rc.interrupted.is_set():
            _run_always(rc, play, block, entered, skipped)


def _run_always(rc: RunContext, play: Play, block: Node, entered: list[TargetState], skipped: frozenset[int]) -> None:
    participants = [ts for ts in entered if not ts.unreachable and not ts.stopped and ts.lock_held is None]
    saved = {ts.name: ts.failed for ts in participants}
    for ts in participants:
        ts.failed = False
    try:
        run_tasks(rc, play, block.always, participants, skipped)
    finally:
        for ts in participants:
            ts.failed = ts.failed or saved[ts.name]


def run_task_on(rc: RunContext, play: Play, node: Node, targets: Sequence[TargetState]) -> None:
    """Emit TaskStarted, run the task on every target in parallel (bounded), wait for all."""
    scope = node.scope
    handler = node.handler
    task = dataclasses.replace(node.task, name=_display_name(rc, play, node.task, targets, scope))
    if rc.step_gate is not None and not rc.step_gate.allows(task.name, [ts.name for ts in targets], handler):
        return  # --step: the operator said no; the task does not run (nothing to report or count)
    rc.bus.emit(
        TaskStarted(
            run_id=rc.run_id,
            play=play.name,
            task=task.name,
            location=str(task.mark),
            targets=[ts.name for ts in targets],
            handler=handler,
        )
    )
    finished = fan_out(
        list(targets),
        lambda ts: _step_once(rc, play, task, ts, scope, handler),
        rc.options.forks,
        rc.interrupted,
        rc.abort,
        rc.options.interrupt_grace,
    )
    if not finished:
        for ts in targets:
            ts.stopped = True
        raise Interrupted("interrupted while steps were running")
    _remember_failures(rc, task.name, targets)


def _remember_failures(rc: RunContext, step: str, targets: Sequence[TargetState]) -> None:
    """The targets this step failed on keep its name and message: a rescue reads them as failed_step and
    failed_msg (Ansible's ansible_failed_task), so its notification can say what failed."""
    for ts in targets:
        if ts.failed or ts.unreachable:
            ts.failed_step = step
            ts.failed_msg = rc.bus.redactor.text(ts.error)[:MAX_FAILED_MSG]


def _display_name(rc: RunContext, play: Play, task: Task, targets: Sequence[TargetState], scope: Scope) -> str:
    """Task names are templates too (`Deploy {{ service }}`), rendered as Ansible does: once, for the first target."""
    if not targets or not is_template_value(task.name):
        return task.name
    try:
        variables = step_vars(rc, targets[0], play, [*scope.vars, (task.vars, task.mark)], rc.options.check)
        return str(rc.templar.render(task.name, variables, task.mark))
    except AjudaplayError:  # the step itself will report the template problem
        return task.name


def _step_once(rc: RunContext, play: Play, task: Task, ts: TargetState, scope: Scope, handler: bool) -> None:
    try:
        run_step(rc, play, task, ts, scope, handler)
    except BaseException as exc:  # never lose a worker silently
        message = f"internal error: {type(exc).__name__}: {exc}"
        ts.failed = True
        ts.counters.add("failed")
        rc.bus.emit(
            TaskResult(
                rc.run_id, play.name, task.name, ts.name, "failed", Result(failed=True, msg=message),
                0.0, time.time(), handler=handler, error=message, action=task.action or "",
            )
        )
