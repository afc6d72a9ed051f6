"""Which targets still have an action running, so nothing is released or started under it.

A step's action may outlive the step: a `timeout:` returns the failure at the
deadline, and an interrupt stops waiting for workers after a grace period.
The action itself is told to stop (its cancel event) and its command is killed;
until it has returned, its target counts as busy here. The run waits for every
target to be idle before it releases the locks (a lock released under a
running command would let another operator start a second one).
"""

from __future__ import annotations

import threading
import time

STOP_GRACE = 10.0  # seconds a cancelled action gets to return before its target is given up


class InFlight:
    """Counts running actions per target; thread (and greenlet) safe."""

    def __init__(self) -> None:
        self._changed = threading.Condition(threading.Lock())
        self._running: dict[str, int] = {}

    def enter(self, target: str) -> None:
        with self._changed:
            self._running[target] = self._running.get(target, 0) + 1

    def leave(self, target: str) -> None:
        with self._changed:
            left = self._running.get(target, 0) - 1
            if left > 0:
                self._running[target] = left
            else:
                self._running.pop(target, None)
            self._changed.notify_all()

    def busy(self) -> list[str]:
        """Targets with an action still running, sorted."""
        with self._changed:
            return sorted(self._running)

    def wait_idle(self, timeout: float, abort: threading.Event | None = None) -> list[str]:
        """Wait until no action runs (at most `timeout` s, less once `abort` is set); the targets still busy."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._running:
                left = deadline - time.monotonic()
                if left <= 0 or (abort is not None and abort.is_set()):
                    break
                self._changed.wait(min(left, 0.1))
            return sorted(self._running)
