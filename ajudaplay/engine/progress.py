"""Turns a step's `progress(what)` calls into Progress events, rate-limited, with the elapsed time.

Targets call `ctx.progress(...)` whenever they poll or see a change (a Compose
health check polls every second, a Kubernetes rollout speaks only when the
Deployment changes). Listeners want a change at once, and a reminder while
nothing changes (a CI log must not look hung), but not the same line every
second: a changed text is sent at once, an unchanged one again every
PROGRESS_EVERY seconds, by one ticker thread per run, until the step ends.
The elapsed time counts from the first call: when the wait began.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from ajudaplay.engine.events import Progress

PROGRESS_EVERY = 5.0  # seconds between two Progress events of the same unchanged wait
TICK = 1.0  # how often the ticker looks for waits due a reminder


class ProgressFeed:
    """The `StepContext.progress` of one step on one target; `close()` when the step ends."""

    def __init__(self, emit: Callable[[Progress], None], run_id: str, target: str, task: str,
                 ticker: ProgressTicker | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._emit = emit
        self._run_id = run_id
        self._target = target
        self._task = task
        self._ticker = ticker
        self._clock = clock
        self._since: float | None = None
        self._last = ""
        self._sent = 0.0
        self._closed = False
        self._lock = threading.Lock()

    def __call__(self, what: str) -> None:
        self._send(what, changed_only=True)

    def tick(self) -> None:
        """Re-send the current wait if nothing was sent for PROGRESS_EVERY seconds."""
        self._send(None, changed_only=False)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        if self._ticker is not None:
            self._ticker.discard(self)

    def _send(self, what: str | None, changed_only: bool) -> None:
        first = False
        with self._lock:
            if self._closed or (what is None and self._since is None):
                return
            now = self._clock()
            if self._since is None:
                self._since, first = now, True
            text = self._last if what is None else what
            if text == self._last and now - self._sent < PROGRESS_EVERY and not first:
                return
            self._last, self._sent = text, now
            elapsed = now - self._since
        if first and self._ticker is not None:
            self._ticker.add(self)
        self._emit(Progress(self._run_id, self._target, self._task, text, elapsed))


class ProgressTicker:
    """One thread per run (only while some wait is in progress) that reminds listeners of unchanged waits."""

    def __init__(self, interval: float = TICK) -> None:
        self._interval = interval
        self._feeds: set[ProgressFeed] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, feed: ProgressFeed) -> None:
        with self._lock:
            self._feeds.add(feed)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, daemon=True, name="ajudaplay-progress")
                self._thread.start()

    def discard(self, feed: ProgressFeed) -> None:
        with self._lock:
            self._feeds.discard(feed)

    def _loop(self) -> None:
        while True:
            time.sleep(self._interval)
            with self._lock:
                feeds = list(self._feeds)
                if not feeds:
                    self._thread = None
                    return
            for feed in feeds:
                feed.tick()
