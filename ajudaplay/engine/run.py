"""One run: its Plan, targets, the Plan's plays in order, signals, locks released on every exit path.

Exit code rule (docs/user-guide.md, "Exit codes"), worst first:
130 interrupted > 2 a step failed / a target unreachable / a lock lost mid-run /
a play stopped by max_fail_percentage > 4 a target's lock was held (and nothing else failed)
> 5 a listener (the journal) could not write > 0.
"""

from __future__ import annotations

import getpass
import signal
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable

from ajudaplay.actions.known_secrets import given_secrets
from ajudaplay.engine.bus import EventBus
from ajudaplay.engine.events import Listener, Outcome, RunFinished, RunStarted
from ajudaplay.engine.inflight import STOP_GRACE
from ajudaplay.engine.options import RunOptions
from ajudaplay.engine.play import run_play
from ajudaplay.engine.plan import Plan, build_plan
from ajudaplay.engine.state import RunContext, TargetState
from ajudaplay.errors import AjudaplayError, Interrupted, JournalError
from ajudaplay.exitcodes import ExitCode
from ajudaplay.locks import LockHolder
from ajudaplay.redaction import Redactor
from ajudaplay.targets.base import lock_of

RELEASE_WAIT = 10.0  # seconds releasing every lock may take at the end of a run, hung hosts included

SIGNAL_POLL = 0.05  # seconds between a signal and the run's interrupt

if TYPE_CHECKING:
    from ajudaplay.actions.base import Registry
    from ajudaplay.inventory.model import Inventory, TargetSpec
    from ajudaplay.playbook.model import Playbook
    from ajudaplay.targets.base import Target
    from ajudaplay.templating import Templar


@dataclass(frozen=True)
class RunSummary:
    """What the caller (the CLI) needs after a run."""

    run_id: str
    exit_code: int
    outcome: Outcome
    message: str


def new_run_id() -> str:
    """A unique run id whose first characters already tell runs apart (`show` takes a prefix)."""
    return uuid.uuid4().hex[:16]


class Runner:
    """Executes a playbook against an inventory and reports through listeners."""

    def __init__(
        self,
        playbook: Playbook,
        inventory: Inventory,
        registry: Registry,
        options: RunOptions | None = None,
        listeners: Iterable[Listener] = (),
        make_target: Callable[[TargetSpec], Target] | None = None,
        templar: Templar | None = None,
        run_id: str | None = None,
    ) -> None:
        from ajudaplay.templating import Templar as _Templar

        if make_target is None:
            from ajudaplay.targets.factory import make_target as _make_target

            make_target = _make_target
        self.options = options or RunOptions()
        redactor = Redactor(list(inventory.secret_values))
        for name in self.options.secret_extra_vars:
            if name in self.options.extra_vars:
                redactor.add(self.options.extra_vars[name])
        for value in given_secrets(playbook, inventory, self.options.extra_vars):
            redactor.add(value)  # what `secret`/`certificate` tasks will be given: masked from the start
        user = self.options.user or _login()
        self.rc = RunContext(
            run_id=run_id or new_run_id(),
            playbook=playbook,
            inventory=inventory,
            registry=registry,
            options=self.options,
            templar=templar or _Templar(),
            bus=EventBus(listeners, redactor),
            holder=LockHolder(user=user, hostname=socket.gethostname(), run_id=""),
            make_target=make_target,
        )
        self.rc.holder = LockHolder(user=user, hostname=self.rc.holder.hostname, run_id=self.rc.run_id)
        self.plan: Plan | None = None

    def preflight(self, templates: bool = True) -> Plan:
        """Build the Plan: patterns, --limit, batches, every template checked; raises InvalidInput.

        `templates=False` (the listings) plans without the template and argument checks.
        """
        rc = self.rc
        plan = build_plan(rc.playbook, rc.inventory, rc.registry, rc.options, rc.templar, templates)
        if rc.options.step:
            from ajudaplay.engine.stepping import StepGate, no_terminal_problem

            problem = no_terminal_problem()
            if problem is not None:
                plan.diagnostics.append(problem)
            elif rc.step_gate is None:
                rc.step_gate = StepGate()
        plan.raise_if_invalid()
        self.plan = plan
        return plan

    @property
    def selections(self) -> list[list[str]]:
        """The selected target names of each play (empty before the Plan is built)."""
        return self.plan.selections if self.plan is not None else []

    def run(self) -> RunSummary:
        """Run every play of the Plan; always emits RunFinished and releases every lock."""
        plan = self.plan if self.plan is not None and self.plan.checked else self.preflight()
        rc = self.rc
        rc.started_at = time.time()
        rc.bus.emit(
            RunStarted(
                run_id=rc.run_id,
                playbook=str(rc.playbook.path),
                inventory=rc.inventory.name or str(rc.inventory.path),
                user=rc.holder.user,
                started_at=rc.started_at,
                check=self.options.check,
                extra=_extra(self.options),
            )
        )
        outcome: Outcome = "error"
        message = ""
        restore = _install_signals(rc)
        renewer = None
        try:
            from ajudaplay.engine.prepare import LockRenewer

            self._create_targets(plan)
            renewer = LockRenewer(rc)
            renewer.start()
            for planned in plan.plays:
                rc.check_interrupt()
                run_play(rc, planned)
            rc.check_interrupt()  # a signal during the last step: interrupted, whatever that step did
            outcome = "success"
        except (Interrupted, KeyboardInterrupt):
            rc.interrupt()
            outcome, message = "interrupted", "interrupted by a signal: running steps were stopped"
        except AjudaplayError as exc:
            message = str(exc)
            raise
        except BaseException as exc:
            message = f"internal error: {type(exc).__name__}: {exc}"
            raise
        finally:
            self._wait_for_steps()
            if renewer is not None:
                renewer.stop()
            self._release_all()
            restore()
            if outcome == "success" and rc.interrupted.is_set():  # a signal while the run was ending
                outcome, message = "interrupted", "interrupted by a signal"
            exit_code, outcome, message = self._verdict(outcome, message)
            stats = {name: ts.counters.freeze() for name, ts in rc.targets.items()}
            rc.bus.emit(RunFinished(rc.run_id, outcome, int(exit_code), time.time(), stats, message))
            rc.bus.close()
        return RunSummary(rc.run_id, int(exit_code), outcome, message)

    # internals ---------------------------------------------------------------
    def _wait_for_steps(self) -> None:
        """Before any lock is released, every action this run started has returned (at most STOP_GRACE s).

        A target whose action still runs keeps its lock (it expires by its TTL):
        releasing it would let another run start a second command beside ours.
        """
        rc = self.rc
        if not rc.inflight.busy():
            return
        for name in rc.inflight.wait_idle(STOP_GRACE, rc.abort):
            rc.message(name, f"a step is still running {STOP_GRACE:g}s after it was told to stop; "
                             "its lock is not released and expires by its TTL", "warning")
            ts = rc.targets.get(name)
            if ts is not None:
                ts.locked = False  # _release_all leaves it alone

    def _create_targets(self, plan: Plan) -> None:
        """A TargetState per selected target, with the inventory variables the Plan rendered once."""
        rc = self.rc
        for names in plan.selections:
            for name in names:
                if name in rc.targets:
                    continue
                spec = rc.inventory.targets[name]
                ts = TargetState(name=name, spec=spec, base_vars=dict(plan.target_vars.get(name, {})))
                try:
                    ts.target = rc.make_target(spec)
                except Exception as exc:  # unknown kind, missing module: that target cannot run
                    ts.error = f"cannot create target {name!r} ({spec.kind}): {exc}"
                rc.targets[name] = ts

    def _release_all(self) -> None:
        """Release locks and close connections of every target, in parallel, never raising, within RELEASE_WAIT s.

        Each target first waits for a renewal still in flight (its lock_mutex),
        so a release never meets a half-renewed lock and leaves it behind as
        "not mine". A host or API server that stopped answering costs at most
        RELEASE_WAIT: its lock is left to expire by its TTL, with a warning.
        """
        rc = self.rc
        deadline = time.monotonic() + RELEASE_WAIT
        slots = threading.Semaphore(max(1, rc.options.forks))
        given_up: set[str] = set()

        def release(ts: TargetState) -> None:
            if ts.target is None:
                return
            with slots:
                if ts.locked:
                    if not ts.lock_mutex.acquire(timeout=max(0.0, deadline - time.monotonic())):
                        given_up.add(ts.name)  # a renewal hangs on this target: so would the release
                        return
                    try:
                        lock_of(ts.target).release_lock()
                        ts.locked = False
                    except Exception as exc:
                        rc.message(ts.name, f"could not release the lock: {exc}", "warning")
                    finally:
                        ts.lock_mutex.release()
                if ts.opened:
                    try:
                        ts.target.close()
                    except Exception as exc:
                        rc.message(ts.name, f"could not close the connection: {exc}", "warning")

        # own threads, no interrupt events: release must run even after an interrupt
        workers = [(ts, threading.Thread(target=release, args=(ts,), daemon=True, name="ajudaplay-release"))
                   for ts in rc.targets.values()]
        for _, worker in workers:
            worker.start()
        for ts, worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive() or ts.name in given_up:
                what = "release the lock" if ts.locked else "close the connection"
                rc.message(ts.name, f"gave up trying to {what} after {RELEASE_WAIT:g}s (not answering)"
                           + (f"; the lock expires by its {rc.options.lock_ttl:g}s TTL, or remove it with "
                              f"`ajudaplay unlock`" if ts.locked else ""), "warning")

    def _verdict(self, outcome: Outcome, message: str) -> tuple[ExitCode, Outcome, str]:
        rc = self.rc
        if outcome == "interrupted":
            return ExitCode.INTERRUPTED, outcome, message
        if outcome == "error":
            return ExitCode.INTERNAL_ERROR, outcome, message
        states = list(rc.targets.values())
        broken = [ts for ts in states if ts.lock_lost or
                  (ts.lock_held is None and (ts.counters.failed or ts.counters.unreachable))]
        if broken or rc.play_aborted:
            lost = [f"lock lost on {ts.name}: {ts.lock_lost}" for ts in broken if ts.lock_lost]
            names = ", ".join(ts.name for ts in broken if not ts.lock_lost)
            parts = lost + ([f"failed on: {names}"] if names else [])
            return ExitCode.FAILED, "failed", message or "; ".join(parts) or "play stopped"
        held = [ts for ts in states if ts.lock_held is not None]
        if held:
            return ExitCode.LOCK_HELD, "lock_held", "; ".join(ts.error for ts in held)
        journal = [exc for _, exc in rc.bus.errors if isinstance(exc, JournalError)]
        if journal:
            return ExitCode.JOURNAL_ERROR, "error", f"journal: {journal[0]}"
        return ExitCode.OK, "success", message


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def _extra(options: RunOptions) -> dict[str, Any]:
    return {
        "limit": options.limit,
        "tags": list(options.tags),
        "skip_tags": list(options.skip_tags),
        "start_at_step": options.start_at_step,
        "forks": options.forks,
        "lock_ttl": options.lock_ttl,
        "diff": options.diff,
        "extra_vars": dict(options.extra_vars),
    }


def _install_signals(rc: RunContext) -> Callable[[], None]:
    """SIGINT and SIGTERM alike set the run's interrupt (twice: abort); returns the restorer.

    The handler only counts: it runs between two bytecodes of whatever the main
    thread was doing (with gevent, inside the event loop, where nothing may
    block), maybe inside the very lock rc.interrupt() takes. A watcher thread
    turns each counted signal into rc.interrupt() within SIGNAL_POLL seconds.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    received = [0]
    stopped = [False]

    def handler(signum: int, frame: Any) -> None:
        received[0] += 1

    def watch() -> None:
        handled = 0
        while not stopped[0]:
            time.sleep(SIGNAL_POLL)
            while handled < received[0]:
                handled += 1
                rc.interrupt()

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, handler)
    threading.Thread(target=watch, daemon=True, name="ajudaplay-signals").start()

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)
        stopped[0] = True
        if received[0] and not rc.interrupted.is_set():  # counted, not yet seen by the watcher
            rc.interrupt()

    return restore
