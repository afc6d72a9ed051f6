"""Run one function for many targets at once, at most `forks` at a time, interruptibly.

Threads, not a gevent pool, so the engine works with or without gevent; the
CLI (and the tests) monkey-patch gevent first, which makes these threads
greenlets: a bounded fan-out is then a pool of greenlets sharing one OS thread,
and blocking I/O in pyinfra or the kubernetes client yields cooperatively.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Sequence, TypeVar

T = TypeVar("T")


def fan_out(
    items: Sequence[T],
    fn: Callable[[T], None],
    forks: int,
    interrupted: threading.Event,
    abort: threading.Event,
    grace: float,
) -> bool:
    """Call `fn(item)` for every item; return False when an interrupt cut the wait short.

    After an interrupt, items not started yet are not started; running ones get
    `grace` seconds to return (a second interrupt sets `abort`: stop waiting now).
    `fn` must not raise: exceptions are the caller's to turn into results.
    """
    if not items:
        return True
    slots = threading.Semaphore(max(1, forks))
    remaining = [len(items)]
    count_lock = threading.Lock()
    done = threading.Event()

    def worker(item: T) -> None:
        try:
            with slots:
                if not interrupted.is_set():
                    fn(item)
        finally:
            with count_lock:
                remaining[0] -= 1
                if remaining[0] == 0:
                    done.set()

    for item in items:
        threading.Thread(target=worker, args=(item,), daemon=True, name="ajudaplay-step").start()
    deadline: float | None = None
    while not done.wait(0.05):
        if interrupted.is_set():
            if deadline is None:
                deadline = time.monotonic() + grace
            if abort.is_set() or time.monotonic() >= deadline:
                return False
    return True
