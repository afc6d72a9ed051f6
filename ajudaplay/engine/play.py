"""One play of the Plan: its `serial` batches (formed by the plan), lock, tasks in lockstep, handlers, max_fail."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ajudaplay.engine.blocks import run_tasks
from ajudaplay.engine.events import PlayStarted, TaskResult, TaskStarted
from ajudaplay.engine.fanout import fan_out
from ajudaplay.engine.plan import batch_sizes as batch_sizes  # where it lived before the plan stage
from ajudaplay.engine.prepare import LOCK_TASK, prepare_target
from ajudaplay.errors import Interrupted, LockHeld, TargetUnreachable
from ajudaplay.targets.base import Result

if TYPE_CHECKING:
    from ajudaplay.engine.plan import PlannedPlay
    from ajudaplay.engine.state import RunContext, TargetState
    from ajudaplay.playbook.model import Play



def run_play(rc: RunContext, planned: PlannedPlay) -> None:
    """Run a play of the Plan: its targets in the Plan's batches, its task tree, its handlers."""
    play = planned.play
    rc.bus.emit(PlayStarted(run_id=rc.run_id, play=play.name, targets=list(planned.targets)))
    if play.lock and planned.touches_targets:  # all batches at once: nobody slips in between
        _lock_batch(rc, play, [rc.targets[n] for n in planned.targets if rc.targets[n].alive])
    for number, names in enumerate(planned.batches):
        batch = [rc.targets[n] for n in names]
        if not _run_batch(rc, planned, batch, planned.skipped(number)):
            later = [rc.targets[n] for names in planned.batches[number + 1:] for n in names]
            if later:
                rc.message("", f"play {play.name!r}: batch failed; {len(later)} target(s) in later batches not run", "warning")
            for ts in later:
                ts.stopped = True
            return


def _run_batch(rc: RunContext, planned: PlannedPlay, batch: list[TargetState], skipped: frozenset[int]) -> bool:
    """Run the play on one batch; return False when the play must stop."""
    play = planned.play
    for ts in batch:
        ts.notified.clear()
    live = [ts for ts in batch if ts.alive]
    if not live:
        return True
    for node in planned.tasks:
        run_tasks(rc, play, [node], batch, skipped)
        if _too_many_failed(rc, play, batch):
            return False
    _run_handlers(rc, planned, batch)
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


def _run_handlers(rc: RunContext, planned: PlannedPlay, batch: list[TargetState]) -> None:
    """Each handler once per target that notified it (by name or `listen`), in definition order."""
    for handler in planned.handlers:
        answers = {handler.task.name, *handler.task.listen}
        targets = [ts for ts in batch if ts.alive and ts.notified & answers]
        if targets:
            run_tasks(rc, planned.play, [handler], targets)
    for ts in batch:
        ts.notified.clear()


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
        except LockHeld:
            status, error = "failed", ts.error  # with the hint: --lock-wait, `ajudaplay unlock`
        except Exception as exc:
            status, error = "failed", f"internal error: {type(exc).__name__}: {exc}"
            ts.failed, ts.error = True, error
        ts.counters.add(status)  # the lock step is a result like any other: the recap counts it as history does
        rc.bus.emit(
            TaskResult(rc.run_id, play.name, LOCK_TASK, ts.name, status,  # type: ignore[arg-type]
                       Result(failed=bool(error), msg=error or f"locked for run {rc.run_id}"),
                       time.monotonic() - t0, started, error=error)
        )

    if not fan_out(pending, lock, rc.options.forks, rc.interrupted, rc.abort, rc.options.interrupt_grace):
        raise Interrupted("interrupted while taking locks")
