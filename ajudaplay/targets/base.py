"""The Target interface every deployment mode implements, and what actions return.

Actions (ajudaplay.actions) are written once against `Target`; a target that
cannot do something raises `NotApplicable` with a reason instead of silently
ignoring it. Every mutating method honours `ctx.check`: report exactly what
would change, change nothing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ajudaplay.errors import LockInfo, NotApplicable
from ajudaplay.locks import LockHolder

if TYPE_CHECKING:
    from ajudaplay.hosts.base import HostConnection
    from ajudaplay.inventory.model import TargetSpec


@dataclass(frozen=True)
class Change:
    """One difference a step made (or would make in check mode)."""

    what: str  # e.g. "api image", "config nginx.conf", "replicas"
    before: str | None
    after: str | None
    unified: str = ""  # optional unified diff text for files

    def summary(self) -> str:
        return f"{self.what}: {self.before if self.before is not None else '-'} -> {self.after if self.after is not None else '-'}"


@dataclass(frozen=True)
class RevisionChange:
    """A service moved from one revision to another; journaled per service."""

    service: str
    before: str | None
    after: str | None
    image: str | None = None


@dataclass
class Result:
    """What one action did on one target. `data` is what `register` stores."""

    changed: bool = False
    failed: bool = False
    skipped: bool = False
    msg: str = ""
    changes: list[Change] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    revisions: list[RevisionChange] = field(default_factory=list)
    rolled_back: bool = False  # an atomic deploy failed and was undone
    show: bool = False  # print `msg` even on an ok line at normal verbosity (debug does)

    def diff_summary(self) -> str:
        return "; ".join(c.summary() for c in self.changes)


@dataclass
class StepContext:
    """Per-call context handed to targets: check mode, timeout, cancellation, logging."""

    run_id: str
    check: bool = False
    diff: bool = False
    timeout: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    log: Callable[[str], None] = lambda message: None
    user: str = ""
    base_dir: Path = field(default_factory=Path.cwd)  # playbook's folder: relative files

    def cancelled(self) -> bool:
        return self.cancel.is_set()


@dataclass(frozen=True)
class CertificateRequest:
    """Arguments of the `certificate` action, already validated and resolved."""

    service: str | None
    name: str | None = None  # cert-manager Certificate / TLS Secret / file set name
    cert_file: Path | None = None
    key_file: Path | None = None
    renew: bool = False  # trigger renewal (cmctl renew / renewal command)
    command: str | None = None  # Compose: certbot-style renewal command
    min_days: int | None = None
    reload: str | None = None  # service to restart/reload afterwards (e.g. nginx)
    timeout: float | None = None
    restore_previous: bool = False  # swap back the pair the last install replaced


class Target:
    """Base class: every method raises NotApplicable until a mode implements it.

    Lifecycle: `open()` once per run (lazy connect), `acquire_lock()` before the
    first step, `release_lock()` and `close()` on every exit path.
    """

    kind = "abstract"

    def __init__(self, spec: TargetSpec) -> None:
        self.spec = spec
        self.name = spec.name

    # lifecycle -----------------------------------------------------------
    def open(self) -> None:
        """Connect; raises TargetUnreachable with the underlying error chained."""

    def close(self) -> None:
        """Disconnect; must be safe to call twice and after a failed open()."""

    def host(self) -> HostConnection:
        """The shell/file connection for host actions (command, copy, ...)."""
        raise NotApplicable(f"target {self.name!r} ({self.kind}) has no host shell")

    def services(self) -> list[str]:
        return sorted(self.spec.services)

    # lock ----------------------------------------------------------------
    def acquire_lock(self, holder: LockHolder, ttl: float, wait: float) -> None:
        """Take the environment lock, waiting up to `wait` s; raises LockHeld."""

    def renew_lock(self) -> None:
        """Extend the lock this run holds; the engine calls it every ttl/3 while the run lasts.

        Raises LockLost when the lock is not this run's any more; any other
        error is taken as transient and retried until the renew deadline.
        """

    def release_lock(self) -> None:
        """Release the lock if this process holds it; never raises for a missing lock."""

    def read_lock(self) -> LockInfo | None:
        return None

    def force_unlock(self) -> LockInfo | None:
        """Remove the lock whoever holds it (`ajudaplay unlock`); returns what was removed."""
        return None

    # service actions -------------------------------------------------------
    def _na(self, action: str) -> NotApplicable:
        return NotApplicable(f"{action} is not supported on target {self.name!r} ({self.kind})")

    def deploy(self, ctx: StepContext, service: str, image: str, atomic: bool, health_url: str | None = None) -> Result:
        raise self._na("deploy")

    def rollback(self, ctx: StepContext, service: str, to_revision: int | None) -> Result:
        raise self._na("rollback")

    def history(self, ctx: StepContext, service: str) -> Result:
        raise self._na("history")

    def scale(
        self,
        ctx: StepContext,
        service: str,
        replicas: int | None,
        min_replicas: int | None,
        max_replicas: int | None,
    ) -> Result:
        raise self._na("scale")

    def restart(self, ctx: StepContext, service: str) -> Result:
        raise self._na("restart")

    def status(self, ctx: StepContext, service: str) -> Result:
        raise self._na("status")

    def config(self, ctx: StepContext, service: str, files: dict[str, bytes], restart: bool) -> Result:
        raise self._na("config")

    def secret(self, ctx: StepContext, service: str, values: dict[str, str], restart: bool) -> Result:
        raise self._na("secret")

    def certificate(self, ctx: StepContext, request: CertificateRequest) -> Result:
        raise self._na("certificate")

    def logs(self, ctx: StepContext, service: str, tail: int, grep: str | None, *, since: int | None = None,
             previous: bool = False) -> Result:
        """`since`: only lines of the last N seconds; `previous`: the last terminated container's lines."""
        raise self._na("logs")

    def fetch(self, ctx: StepContext, service: str, src: str, dest: Path, shown_dest: str) -> Result:
        """Copy `src` (a file or folder in the service's container) to `dest` on the controller
        (`shown_dest` is dest as written: a trailing '/' means into that folder)."""
        raise self._na("fetch")

    def upload(self, ctx: StepContext, service: str, src: Path, dest: str, mode: int | None, shown_src: str) -> Result:
        """Copy the controller's `src` (file or folder) to `dest` in the service's container."""
        raise self._na("upload")

    def exec(self, ctx: StepContext, service: str, command: list[str] | str, *, container: str | None = None,
             pod: str | None = None, stdin: str | None = None) -> Result:
        """`pod` is a pod name or "all" (Kubernetes); `stdin` is written to the command's standard input."""
        raise self._na("exec")
