"""Connect to a target and take its environment lock, once, before it is first touched; keep it.

Controller-only actions (debug, assert, set_vars, fail) never call this, so a
play made only of them neither connects nor locks.

While the run lasts, LockRenewer renews every held lock every ttl/3. A lock
that is not this run's any more (taken over, removed, edited) or that could
not be renewed for the renew deadline (2/3 of the ttl, like client-go's
RenewDeadline: after that another run may already see it expired) is lost:
that target's running steps are cancelled, its remaining steps never start,
a failed "lock lost" result is reported and the run exits 2.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from ajudaplay.engine.events import TaskResult
from ajudaplay.engine.progress import ProgressFeed
from ajudaplay.errors import LockHeld, LockLost, TargetUnreachable
from ajudaplay.targets.base import Result, lock_of

if TYPE_CHECKING:
    from ajudaplay.engine.state import RunContext, TargetState
    from ajudaplay.playbook.model import Play

LOCK_TASK = "acquire lock"  # the pseudo-task that takes the locks (engine/play.py)
LOCK_POLL = 2.0  # seconds between two tries while --lock-wait waits for a held lock
LOCK_LOST_TASK = "lock lost"  # the pseudo-task that reports a lost lock (recap, journal)
RENEW_DEADLINE = 2 / 3  # of the ttl: without a renewal for this long, the lock counts as lost
RETRY_PERIOD = 2 / 15  # of the ttl: a failed renewal is tried again this soon (client-go: 2 s of 15 s)


def prepare_target(rc: RunContext, play: Play, ts: TargetState) -> None:
    """Open the target (lazily, once per run) and lock it if the play wants a lock.

    Raises TargetUnreachable or LockHeld; records the latter on the target state
    so the run can exit with LOCK_HELD.
    """
    with ts.prepare_lock:
        ts.play = play.name
        if ts.target is None:
            raise TargetUnreachable(ts.error or f"target {ts.name!r} could not be created")
        if not ts.opened:
            ts.target.open()
            ts.opened = True
        if play.lock and not ts.locked:
            try:
                _acquire(rc, ts)
            except LockHeld as exc:
                ts.lock_held = exc.info
                ts.error = lock_held_message(exc, rc.options.lock_wait, rc.inventory.name or str(rc.inventory.path))
                raise
            ts.lock_ok_at = time.monotonic()
            ts.locked = True


def _acquire(rc: RunContext, ts: TargetState) -> None:
    """Take the target's lock; with --lock-wait, try every LOCK_POLL s and say who holds it meanwhile.

    The engine waits (not the target) so that every kind of lock reports the
    same progress line, naming the holder, while the operator waits.
    """
    assert ts.target is not None
    lock = lock_of(ts.target)
    wait = rc.options.lock_wait
    deadline = time.monotonic() + wait
    feed = ProgressFeed(rc.bus.emit, rc.run_id, ts.name, LOCK_TASK, rc.ticker)
    try:
        while True:
            try:
                lock.acquire_lock(rc.holder, ttl=rc.options.lock_ttl, wait=0.0)
                return
            except LockHeld as exc:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise
                feed(f"waiting for the lock on {ts.name}: held by {exc.info.describe()}")
                if rc.interrupted.wait(min(LOCK_POLL, left)):
                    raise
    finally:
        feed.close()


def lock_held_message(exc: LockHeld, waited: float, inventory: str) -> str:
    """What a lock-held failure says: who holds it, and the two ways on (wait, or remove a stale lock)."""
    wait_hint = (f"waited {waited:g}s; wait longer with --lock-wait SECONDS" if waited > 0
                 else "wait for it with --lock-wait SECONDS")
    import shlex

    return (f"{exc}; {wait_hint}, or, if that run is gone, remove the lock with "
            f"`ajudaplay unlock -i {shlex.quote(inventory)} {shlex.quote(exc.target)}`")


def lose_lock(rc: RunContext, ts: TargetState, reason: str) -> None:
    """The target's lock is not this run's any more: stop its steps, report it once."""
    with ts.prepare_lock:
        if ts.lock_lost:
            return
        ts.lock_lost = reason
    rc.cancel_target(ts.name)
    ts.counters.add("failed")
    rc.bus.emit(
        TaskResult(rc.run_id, ts.play, LOCK_LOST_TASK, ts.name, "failed", Result(failed=True, msg=reason),
                   0.0, time.time(), error=reason)
    )


class LockRenewer:
    """Background thread renewing every held lock every ttl/3, each target in its own short-lived thread.

    A renewal holds the target's `lock_mutex`, so releasing waits for it
    instead of racing it; a renewal that hangs (a host that stopped
    answering) does not delay the other targets, and its target is declared
    lost once the renew deadline passes.
    """

    def __init__(self, rc: RunContext) -> None:
        self.rc = rc
        ttl = rc.options.lock_ttl
        self.period = max(0.2, ttl / 3)
        self.deadline = ttl * RENEW_DEADLINE
        self.retry = max(0.1, min(self.period, ttl * RETRY_PERIOD))
        self._tick = max(0.05, min(1.0, self.retry / 2))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="ajudaplay-lock-renew")
        self._due: dict[str, float] = {}
        self._busy: set[str] = set()
        self._last_error: dict[str, str] = {}

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """No new renewals; one in flight finishes under its target's lock_mutex (release waits for it)."""
        self._stop.set()
        self._thread.join(2.0)

    def _loop(self) -> None:
        while not self._stop.wait(self._tick):
            now = time.monotonic()
            for ts in list(self.rc.targets.values()):
                if not ts.locked or ts.lock_lost or ts.target is None:
                    continue
                silent = now - ts.lock_ok_at
                if silent > self.deadline:
                    error = self._last_error.get(ts.name, "the renewal did not return")
                    lose_lock(self.rc, ts, f"the lock could not be renewed for {silent:.0f}s "
                              f"(renew deadline {self.deadline:g}s of its {self.rc.options.lock_ttl:g}s ttl), "
                              f"so another run may already have taken it: {error}")
                    continue
                if ts.name in self._busy or now < self._due.get(ts.name, ts.lock_ok_at + self.period):
                    continue
                self._busy.add(ts.name)
                threading.Thread(target=self._renew, args=(ts,), daemon=True, name="ajudaplay-lock-renew").start()

    def _renew(self, ts: TargetState) -> None:
        try:
            with ts.lock_mutex:
                if self._stop.is_set() or not ts.locked or ts.lock_lost or ts.target is None:
                    return
                try:
                    lock_of(ts.target).renew_lock()
                except LockLost as exc:
                    lose_lock(self.rc, ts, exc.reason)
                    return
                except Exception as exc:  # transient (API 500, SSH hiccup): again soon, until the deadline
                    self._last_error[ts.name] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    self._due[ts.name] = time.monotonic() + self.retry
                    self.rc.message(ts.name, f"could not renew the lock, retrying in {self.retry:g}s: "
                                    f"{self._last_error[ts.name]}", "warning")
                    return
                ts.lock_ok_at = time.monotonic()
                self._due[ts.name] = ts.lock_ok_at + self.period
                self._last_error.pop(ts.name, None)
        finally:
            self._busy.discard(ts.name)
