"""Mutable state of one run: per-target status, variables, counters, cancellation.

Everything a run changes lives in one `RunContext` passed down explicitly; the
engine keeps no module-level state, so runs (and tests) never share anything.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ajudaplay.engine.events import Message, TargetStats
from ajudaplay.engine.inflight import InFlight
from ajudaplay.engine.progress import ProgressTicker
from ajudaplay.engine.stepping import StepGate
from ajudaplay.errors import Interrupted, LockInfo

if TYPE_CHECKING:
    from ajudaplay.actions.base import Registry
    from ajudaplay.engine.bus import EventBus
    from ajudaplay.engine.options import RunOptions
    from ajudaplay.inventory.model import Inventory, TargetSpec
    from ajudaplay.playbook.model import Playbook
    from ajudaplay.locks import LockHolder
    from ajudaplay.targets.base import Target
    from ajudaplay.templating import Templar


@dataclass
class Counters:
    """The recap counters of one target, mutable while the run lasts."""

    ok: int = 0
    changed: int = 0
    failed: int = 0
    skipped: int = 0
    unreachable: int = 0
    ignored: int = 0
    rescued: int = 0
    rolled_back: int = 0
    interrupted: int = 0

    def add(self, status: str, rolled_back: bool = False) -> None:
        """Count one reported result: every TaskResult event counts once, as its journal row does."""
        setattr(self, status, getattr(self, status) + 1)
        if rolled_back:
            self.rolled_back += 1

    def freeze(self) -> TargetStats:
        return TargetStats(**self.__dict__)


@dataclass
class TargetState:
    """One target during a run: its connection, variables, and whether it may go on."""

    name: str
    spec: TargetSpec
    base_vars: dict[str, Any]
    target: Target | None = None
    facts: dict[str, Any] = field(default_factory=dict)  # registered + set_vars
    opened: bool = False
    locked: bool = False
    failed: bool = False  # a failed target stops its own run
    unreachable: bool = False
    stopped: bool = False  # removed by max_fail_percentage or an interrupt
    lock_held: LockInfo | None = None
    lock_lost: str = ""  # why this run lost the lock mid-run: the target is stopped, the run fails
    play: str = ""  # the play that last touched the target (for the "lock lost" result)
    lock_ok_at: float = 0.0  # monotonic time of the last successful acquire/renew
    lock_mutex: threading.Lock = field(default_factory=threading.Lock)  # renew and release, one at a time
    error: str = ""
    # the last step that failed here and its message (redacted): what a `rescue` reads as
    # failed_step / failed_msg (engine/blocks.py records them, engine/variables.py shows them)
    failed_step: str = ""
    failed_msg: str = ""
    notified: set[str] = field(default_factory=set)
    counters: Counters = field(default_factory=Counters)
    prepare_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def alive(self) -> bool:
        return not (self.failed or self.unreachable or self.stopped or self.lock_held is not None or self.lock_lost)


@dataclass
class RunContext:
    """Everything one run needs and changes, handed explicitly to every engine function."""

    run_id: str
    playbook: Playbook
    inventory: Inventory
    registry: Registry
    options: RunOptions
    templar: Templar
    bus: EventBus
    holder: LockHolder
    make_target: Callable[[TargetSpec], Target]
    targets: dict[str, TargetState] = field(default_factory=dict)
    interrupted: threading.Event = field(default_factory=threading.Event)
    abort: threading.Event = field(default_factory=threading.Event)  # second Ctrl-C
    play_aborted: bool = False
    inflight: InFlight = field(default_factory=InFlight)  # actions still running, per target
    ticker: ProgressTicker = field(default_factory=ProgressTicker)  # reminds listeners of long waits
    step_gate: StepGate | None = None  # --step: asks before each task
    started_at: float = field(default_factory=time.time)  # epoch; the run sets it as it starts (run_started)
    _cancels: dict[threading.Event, str] = field(default_factory=dict)  # event -> its target's name
    _cancelled_targets: set[str] = field(default_factory=set)
    _cancels_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_dir(self) -> Path:
        return self.playbook.path.parent

    @property
    def started_iso(self) -> str:
        """The run's start as ISO 8601 UTC (the variable run_started: notify computes the duration from it)."""
        from datetime import datetime, timezone
        return datetime.fromtimestamp(self.started_at, timezone.utc).isoformat(timespec="seconds")

    def confirm(self, question: str) -> str:
        """Ask the operator (ajudaplay/confirm.py); who said yes, else NotConfirmed."""
        from ajudaplay.confirm import confirmer
        return confirmer(self.options.assume_yes, self.holder.user, self.interrupted)(question)

    # cancellation ----------------------------------------------------------
    def new_cancel(self, target: str = "") -> threading.Event:
        """A cancel event for one step on `target`; set at once when the run or that target is already stopped."""
        event = threading.Event()
        with self._cancels_lock:
            self._cancels[event] = target
            if target in self._cancelled_targets:
                event.set()
        if self.interrupted.is_set():
            event.set()
        return event

    def drop_cancel(self, event: threading.Event) -> None:
        with self._cancels_lock:
            self._cancels.pop(event, None)

    def cancel_target(self, name: str) -> None:
        """Ask the steps running on one target to stop (its lock was lost); later steps start cancelled."""
        with self._cancels_lock:
            self._cancelled_targets.add(name)
            for event, target in self._cancels.items():
                if target == name:
                    event.set()

    def interrupt(self) -> None:
        """Ctrl-C / SIGTERM: stop scheduling, ask running steps to stop; twice: stop waiting."""
        if self.interrupted.is_set():
            self.abort.set()
        self.interrupted.set()
        with self._cancels_lock:
            for event in self._cancels:
                event.set()

    def check_interrupt(self) -> None:
        if self.interrupted.is_set():
            raise Interrupted("interrupted by signal")

    # output ----------------------------------------------------------------
    def message(self, target: str, text: str, level: str = "info") -> None:
        self.bus.emit(Message(self.run_id, target, level, text))  # type: ignore[arg-type]
