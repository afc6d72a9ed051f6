"""Connect to a target and take its environment lock, once, before it is first touched.

Controller-only actions (debug, assert, set_vars, fail) never call this, so a
play made only of them neither connects nor locks.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from ajudaplay.errors import LockHeld, TargetUnreachable

if TYPE_CHECKING:
    from ajudaplay.engine.state import RunContext, TargetState
    from ajudaplay.playbook.model import Play


def prepare_target(rc: RunContext, play: Play, ts: TargetState) -> None:
    """Open the target (lazily, once per run) and lock it if the play wants a lock.

    Raises TargetUnreachable or LockHeld; records the latter on the target state
    so the run can exit with LOCK_HELD.
    """
    with ts.prepare_lock:
        if ts.target is None:
            raise TargetUnreachable(ts.error or f"target {ts.name!r} could not be created")
        if not ts.opened:
            ts.target.open()
            ts.opened = True
        if play.lock and not ts.locked:
            try:
                ts.target.acquire_lock(rc.holder, ttl=rc.options.lock_ttl, wait=rc.options.lock_wait)
            except LockHeld as exc:
                ts.lock_held = exc.info
                ts.error = str(exc)
                raise
            ts.locked = True


class LockRenewer:
    """Background thread renewing every held lock every ttl/3 while the run lasts."""

    def __init__(self, rc: RunContext) -> None:
        self.rc = rc
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="ajudaplay-lock-renew")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2.0)

    def _loop(self) -> None:
        period = max(1.0, self.rc.options.lock_ttl / 3)
        while not self._stop.wait(period):
            for ts in list(self.rc.targets.values()):
                if ts.locked and ts.target is not None:
                    try:
                        ts.target.renew_lock()
                    except Exception as exc:  # keep renewing the others
                        self.rc.message(ts.name, f"could not renew the lock: {exc}", "warning")
