"""One play: its targets in `serial` batches, lock, tasks in lockstep, handlers, max_fail."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Sequence

from ajudaplay.engine.blocks import run_task_on, run_tasks
from ajudaplay.engine.events import PlayStarted, TaskResult, TaskStarted
from ajudaplay.engine.fanout import fan_out
from ajudaplay.engine.prepare import prepare_target
from ajudaplay.engine.step import Scope
from ajudaplay.errors import Interrupted, LockHeld, TargetUnreachable
from ajudaplay.targets.base import Result

if TYPE_CHECKING:
    from ajudaplay.engine.state import RunContext, TargetState
    from ajudaplay.playbook.model import Play, Task

LOCK_TASK = "acquire lock"


def batch_sizes(serial: Sequence[int | str], total: int) -> list[int]:
    """Ansible's `serial`: ints or "N%", the last value repeating; empty means one batch."""
    if total <= 0:
        return []
    if not serial:
        return [total]
    sizes: list[int] = []
    index = 0
    while sum(sizes) < total:
        spec = serial[min(index, len(serial) - 1)]
        if isinstance(spec, str) and spec.strip().endswith("%"):
            size = int(math.floor(total * float(spec.strip()[:-1]) / 100.0))
        else:
            size = int(spec)
        size = max(1, min(size, total - sum(sizes)))
        sizes.append(size)
        index += 1
    return sizes


def run_play(rc: RunContext, play: Play, names: list[str]) -> None:
    """Run a play on the named targets (already selected and limited)."""
    rc.bus.emit(PlayStarted(run_id=rc.run_id, play=play.name, targets=list(names)))
    states = [rc.targets[n] for n in names]
    if play.lock and _touches_targets(rc, play):  # all batches at once: nobody slips in between
        _lock_batch(rc, play, [ts for ts in states if ts.alive])
    position = 0
    for size in batch_sizes(play.serial, len(states)):
        batch = states[position : position + size]
        position += size
        if not _run_batch(rc, play, batch):
            later = states[position:]
            if later:
                rc.message("", f"play {play.name!r}: batch failed; {len(later)} target(s) in later batches not run", "warning")
            for ts in later:
                ts.stopped = True
            return


def _run_batch(rc: RunContext, play: Play, batch: list[TargetState]) -> bool:
    """Run the play on one batch; return False when the play must stop."""
    for ts in batch:
        ts.notified.clear()
    live = [ts for ts in batch if ts.alive]
    if not live:
        return True
    scope = Scope(tags=frozenset(play.tags))
    for task in play.tasks:
        run_tasks(rc, play, [task], batch, scope)
        if _too_many_failed(rc, play, batch):
            return False
    _run_handlers(rc, play, batch)
    if all(not ts.alive for ts in batch) and batch:
        return False
    return not _too_many_failed(rc, play, batch)


def _too_many_failed(rc: RunContext, play: Play, batch: list[TargetState]) -> bool:
    if play.max_fail_percentage is None or not batch:
        return False
    failed = sum(1 for ts in batch if ts.failed or ts.unreachable or ts.lock_held is not None)
    if failed * 100.0 / len(batch) <= play.max_fail_percentage:
        return False
    rc.play_aborted = True
    rc.message(
        "",
        f"play {play.name!r} stopped: {failed} of {len(batch)} targets failed, "
        f"more than max_fail_percentage {play.max_fail_percentage:g}%",
        "warning",
    )
    for ts in batch:
        ts.stopped = True
    return True


def _run_handlers(rc: RunContext, play: Play, batch: list[TargetState]) -> None:
    """Each handler once per target that notified it (by name or `listen`), in definition order."""
    for handler in play.handlers:
        answers = {handler.name, *handler.listen}
        targets = [ts for ts in batch if ts.alive and ts.notified & answers]
        if targets:
            run_tasks(rc, play, [handler], targets, Scope(), handler=True)
    for ts in batch:
        ts.notified.clear()


def _touches_targets(rc: RunContext, play: Play) -> bool:
    """Whether any action of the play runs on the target (not only on the controller)."""

    def walk(tasks: Sequence[Task]) -> bool:
        for task in tasks:
            if task.is_block:
                if walk(task.block or []) or walk(task.rescue) or walk(task.always):
                    return True
                continue
            spec = rc.registry.get(task.action or "")
            if spec is None or not spec.controller:
                return True
        return False

    return walk(play.tasks) or walk(play.handlers)


def _lock_batch(rc: RunContext, play: Play, batch: list[TargetState]) -> None:
    """Connect and lock the play's targets in parallel, as a visible pseudo-task."""
    pending = [ts for ts in batch if not ts.locked]
    if not pending:
        return
    rc.bus.emit(
        TaskStarted(rc.run_id, play.name, LOCK_TASK, str(play.mark), [ts.name for ts in pending])
    )

    def lock(ts: TargetState) -> None:
        started, t0 = time.time(), time.monotonic()
        try:
            prepare_target(rc, play, ts)
            status, error = "ok", ""
        except TargetUnreachable as exc:
            status, error = "unreachable", str(exc)
            ts.unreachable, ts.error = True, error
            ts.counters.unreachable += 1
        except LockHeld as exc:
            status, error = "failed", str(exc)
            ts.counters.failed += 1
        except Exception as exc:
            status, error = "failed", f"internal error: {type(exc).__name__}: {exc}"
            ts.failed, ts.error = True, error
            ts.counters.failed += 1
        result = Result(failed=bool(error), msg=error or f"locked for run {rc.run_id}")
        rc.bus.emit(
            TaskResult(rc.run_id, play.name, LOCK_TASK, ts.name, status, result,  # type: ignore[arg-type]
                       time.monotonic() - t0, started, error=error)
        )

    if not fan_out(pending, lock, rc.options.forks, rc.interrupted, rc.abort, rc.options.interrupt_grace):
        raise Interrupted("interrupted while taking locks")
