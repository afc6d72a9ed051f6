"""The Target interface, split by capability, and what targets get and return.

A target kind is a `Target` (lifecycle: open, close, its services) plus the
capabilities it declares as base classes, each a small Protocol:
`ServiceOps` (the service verbs), `Lockable` (the environment lock) and
`HostShell` (a shell/file connection for host actions). Their methods are
abstract, so a kind that declares a capability and forgets a method is
refused by mypy ("Cannot instantiate abstract class") and at run time. A
kind without a capability says so by not declaring it: `capable(target,
Lockable)` is False, and `service_ops(target, "deploy")` (`lock_of`,
`shell_of`) raises NotApplicable with the reason, as does calling the method on the plain
`Target` (never a silent no-op). A verb a kind declares but cannot do in a
case raises NotApplicable itself.

Service verbs return `VerbResult[<Verb>Outcome]`, made by ajudaplay.outcomes.to_result
from the typed outcome (ajudaplay/outcomes.py). Every mutating method honours
`ctx.check`: report exactly what would change, change nothing.
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol, runtime_checkable

from ajudaplay.errors import LockInfo, NotApplicable
from ajudaplay.locks import LockHolder
from ajudaplay.outcomes import Change, Result, RevisionChange, VerbResult

if TYPE_CHECKING:
    from ajudaplay.hosts.base import HostConnection
    from contextlib import AbstractContextManager

    from ajudaplay.inventory.model import TargetSpec
    from ajudaplay.targets.workspace import Workspace
    from ajudaplay.outcomes import (
        CertificateOutcome, ConfigOutcome, DeployOutcome, ExecOutcome, FetchOutcome, LogLines, RestartOutcome,
        RevisionList, RollbackOutcome, ScaleOutcome, SecretOutcome, ServiceStatus, UploadOutcome, UsageOutcome,
        EndpointsOutcome, EnvironmentOutcome,
    )

__all__ = [
    "CertificateRequest", "Change", "HostShell", "Lockable", "Result", "RevisionChange", "ServiceData", "ServiceOps",
    "StepContext", "Target", "VerbResult", "capable", "data_of", "lock_of", "service_ops", "shell_of",
]


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
    # Ask the operator before something drastic: returns who said yes, raises NotConfirmed
    # (ajudaplay/confirm.py) for a no, or when there is no terminal and no --yes.
    confirm: Callable[[str], str] = field(default=lambda question: _refuse(question))
    # A long wait says what it waits for ("waiting for api: 1/2 ready"), as often as it polls; the
    # engine rate-limits it and the reporters add the elapsed time. Default: nobody listens.
    progress: Callable[[str], None] = lambda what: None
    # For steps that ask before the rest of the play runs (confirm, pause: actions/approval.py):
    # `step_key` names this task in this run (the same on every target, so targets can share one
    # answer), and `following()` lists the play's tasks after it that the run selected, as
    # {"name", "action", "when"} dicts in run order (rescue sections left out: they run only on a
    # failure). Filled by engine/step.py, computed only when called; default: nothing known.
    step_key: str = ""
    following: Callable[[], list[dict[str, str]]] = lambda: []
    # --yes was given (a pause waiting for Enter returns at once), and the run's redaction of a
    # text an action writes to the terminal itself (a prompt built from templated values).
    assume_yes: bool = False
    redact: Callable[[str], str] = lambda text: text

    def cancelled(self) -> bool:
        return self.cancel.is_set()


def _refuse(question: str) -> str:
    from ajudaplay.confirm import refuse
    return refuse(question)


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


@runtime_checkable
class Lockable(Protocol):
    """The environment lock: one run at a time per target (engine: acquire before the first step)."""

    @abstractmethod
    def acquire_lock(self, holder: LockHolder, ttl: float, wait: float) -> None:
        """Take the environment lock, waiting up to `wait` s; raises LockHeld."""

    @abstractmethod
    def renew_lock(self) -> None:
        """Extend the lock this run holds; the engine calls it every ttl/3 while the run lasts.

        Raises LockLost when the lock is not this run's any more; any other
        error is taken as transient and retried until the renew deadline.
        """

    @abstractmethod
    def release_lock(self) -> None:
        """Release the lock if this process holds it; never raises for a missing lock."""

    @abstractmethod
    def read_lock(self) -> LockInfo | None:
        """Who holds the lock now, if anyone (`ajudaplay lock`)."""

    @abstractmethod
    def force_unlock(self) -> LockInfo | None:
        """Remove the lock whoever holds it (`ajudaplay unlock`); returns what was removed."""


@runtime_checkable
class HostShell(Protocol):
    """A shell and file connection for host actions (command, shell, copy, template, wait_for)."""

    @abstractmethod
    def host(self) -> HostConnection:
        """The connection, opened on first use."""


@runtime_checkable
class ServiceOps(Protocol):
    """The service verbs, one typed outcome each (ajudaplay/outcomes.py)."""

    @abstractmethod
    def deploy(self, ctx: StepContext, service: str, image: str, atomic: bool,
               health_url: str | None = None) -> VerbResult[DeployOutcome]:
        """Set the service's image and wait until healthy; `ok` when already there."""

    @abstractmethod
    def rollback(self, ctx: StepContext, service: str, to_revision: int | None) -> VerbResult[RollbackOutcome]:
        """Back to the previous (second-highest) revision, or `to_revision`."""

    @abstractmethod
    def history(self, ctx: StepContext, service: str) -> VerbResult[RevisionList]:
        """The service's revisions, oldest first."""

    @abstractmethod
    def scale(self, ctx: StepContext, service: str, replicas: int | None, min_replicas: int | None,
              max_replicas: int | None) -> VerbResult[ScaleOutcome]:
        """Set replicas (and autoscaler bounds where there is one)."""

    @abstractmethod
    def restart(self, ctx: StepContext, service: str) -> VerbResult[RestartOutcome]:
        """Restart the service and wait until healthy."""

    @abstractmethod
    def status(self, ctx: StepContext, service: str) -> VerbResult[ServiceStatus]:
        """Read the service's state; changes nothing."""

    @abstractmethod
    def config(self, ctx: StepContext, service: str, files: dict[str, bytes], restart: bool) -> VerbResult[ConfigOutcome]:
        """Install config files; restart only when they changed."""

    @abstractmethod
    def secret(self, ctx: StepContext, service: str, values: dict[str, str], restart: bool) -> VerbResult[SecretOutcome]:
        """Install the service's secret environment; values never shown."""

    @abstractmethod
    def certificate(self, ctx: StepContext, request: CertificateRequest) -> VerbResult[CertificateOutcome]:
        """Install, renew or restore a TLS certificate; check its expiry."""

    @abstractmethod
    def logs(self, ctx: StepContext, service: str, tail: int, grep: str | None, *, since: int | None = None,
             previous: bool = False) -> VerbResult[LogLines]:
        """The last `tail` lines per pod/container, filtered by a regex; `since`: of the last N seconds only;
        `previous`: of the last terminated container."""

    @abstractmethod
    def fetch(self, ctx: StepContext, service: str, src: str, dest: Path, shown_dest: str) -> VerbResult[FetchOutcome]:
        """Copy `src` (a file or folder in the service's container) to `dest` on the controller
        (`shown_dest` is dest as written: a trailing '/' means into that folder)."""

    @abstractmethod
    def upload(self, ctx: StepContext, service: str, src: Path, dest: str, mode: int | None,
               shown_src: str) -> VerbResult[UploadOutcome]:
        """Copy the controller's `src` (file or folder) to `dest` in the service's container."""

    @abstractmethod
    def usage(self, ctx: StepContext, service: str) -> VerbResult[UsageOutcome]:
        """CPU and memory per pod/container and of the whole service (kubectl top pods); read-only."""

    @abstractmethod
    def exec(self, ctx: StepContext, service: str, command: list[str] | str, *, container: str | None = None,
             pod: str | None = None, stdin: str | None = None) -> VerbResult[ExecOutcome]:
        """`pod` is a pod name or "all" (Kubernetes); `stdin` is written to the command's standard input."""

    @abstractmethod
    def endpoints(self, ctx: StepContext, service: str) -> VerbResult[EndpointsOutcome]:
        """Where the service takes traffic (ready and not-ready addresses, ports, internal URLs, hosts); read-only."""

    @abstractmethod
    def environment(self, ctx: StepContext, service: str) -> VerbResult[EnvironmentOutcome]:
        """The names (never values) of the environment its containers get, against the inventory's `env`; read-only."""


@runtime_checkable
class ServiceData(Protocol):
    """The service's files while it runs and while it is stopped: the ground of the database verbs
    (db_check, backup, restore), mode-agnostic above this line (targets/workspace.py)."""

    @abstractmethod
    def live_workspace(self, ctx: StepContext, service: str) -> AbstractContextManager[Workspace]:
        """One running container of the service (Kubernetes: the inventory's container in a Ready pod, else a
        Running one; Compose: its first running container); TargetError naming the service when none runs."""

    @abstractmethod
    def offline(self, ctx: StepContext, service: str) -> AbstractContextManager[Workspace]:
        """Stop the service, yield a workspace on its volumes, start the service again.

        Enter: record the replica count (Kubernetes: also as the Deployment's annotation
        `ajudaplay.io/restore-replicas`, so an interrupted run leaves the count to return to), stop the
        service (Kubernetes: scale to 0 and wait until its pods are gone; Compose: stop its containers),
        then start a short-lived container of the service's image with the same volumes at the same paths
        (Kubernetes: a pod from the Deployment's pod template, command replaced by a sleep loop; Compose:
        `docker run --volumes-from` the stopped container). ctx.log says each step.
        Exit, always (also when the body raised): remove that container, start the service again at the
        recorded count and wait until healthy (TargetError when it does not, the body's error chained).
        On Interrupted the service is started again without waiting. Never called in check mode.
        """


_WHAT: dict[object, str] = {Lockable: "no environment lock", HostShell: "no host shell", ServiceOps: "no service actions",
                            ServiceData: "no access to the service's files"}


def capable(target: object, capability: object) -> bool:
    """Whether the target's kind declares `capability` (Lockable, HostShell, ServiceOps): declared, not merely shaped like it."""
    return capability in type(target).__mro__


def _lacking(target: Target, capability: object, action: str) -> NotApplicable:
    return NotApplicable(f"{action} is not supported on target {target.name!r} ({target.kind}): "
                         f"a {target.kind} target has {_WHAT[capability]}")


def service_ops(target: Target, action: str) -> ServiceOps:
    """The target as ServiceOps, or NotApplicable naming the action, the target and what its kind lacks."""
    if isinstance(target, ServiceOps) and capable(target, ServiceOps):
        return target
    raise _lacking(target, ServiceOps, action)


def lock_of(target: Target) -> Lockable:
    """The target as Lockable, or NotApplicable: its kind has no environment lock."""
    if isinstance(target, Lockable) and capable(target, Lockable):
        return target
    raise _lacking(target, Lockable, "locking")


def data_of(target: Target, action: str) -> ServiceData:
    """The target as ServiceData, or NotApplicable: its kind cannot reach the service's files."""
    if isinstance(target, ServiceData) and capable(target, ServiceData):
        return target
    raise _lacking(target, ServiceData, action)


def shell_of(target: Target, action: str) -> HostShell:
    """The target as HostShell, or NotApplicable: its kind has no host shell."""
    if isinstance(target, HostShell) and capable(target, HostShell):
        return target
    raise _lacking(target, HostShell, action)


class Target:
    """What every kind is: a named target from the inventory, opened once per run, closed on every exit.

    Lifecycle: `open()` once per run (lazy connect), then (Lockable kinds)
    `acquire_lock()` before the first step, `release_lock()` and `close()` on
    every exit path. The capability methods below are fallbacks for callers
    that do not check `capable()` first: they raise NotApplicable with the
    reason. A kind that declares the capability overrides them all (the
    Protocol's abstract methods come first in its MRO). Because the Protocols
    come first, a kind's __init__ calls `Target.__init__(self, spec)` (or its
    parent kind's) by name: `super().__init__` would stop at typing.Protocol's
    __init__, which does not go on along the MRO.
    """

    kind = "abstract"

    def __init__(self, spec: TargetSpec) -> None:
        self.spec = spec
        self.name = spec.name

    def open(self) -> None:
        """Connect; raises TargetUnreachable with the underlying error chained."""

    def close(self) -> None:
        """Disconnect; must be safe to call twice and after a failed open()."""

    def services(self) -> list[str]:
        return sorted(self.spec.services)

    def _lacks(self, capability: object, action: str) -> NotApplicable:
        return _lacking(self, capability, action)

    # fallbacks: NotApplicable, never a silent no-op ------------------------------------------
    def host(self) -> HostConnection:
        raise self._lacks(HostShell, "a host action (command, shell, copy, template, wait_for)")

    def acquire_lock(self, holder: LockHolder, ttl: float, wait: float) -> None:
        raise self._lacks(Lockable, "locking")

    def renew_lock(self) -> None:
        raise self._lacks(Lockable, "locking")

    def release_lock(self) -> None:
        raise self._lacks(Lockable, "locking")

    def read_lock(self) -> LockInfo | None:
        raise self._lacks(Lockable, "reading the lock")

    def force_unlock(self) -> LockInfo | None:
        raise self._lacks(Lockable, "unlocking")

    def deploy(self, ctx: StepContext, service: str, image: str, atomic: bool,
               health_url: str | None = None) -> VerbResult[DeployOutcome]:
        raise self._lacks(ServiceOps, "deploy")

    def rollback(self, ctx: StepContext, service: str, to_revision: int | None) -> VerbResult[RollbackOutcome]:
        raise self._lacks(ServiceOps, "rollback")

    def history(self, ctx: StepContext, service: str) -> VerbResult[RevisionList]:
        raise self._lacks(ServiceOps, "history")

    def scale(self, ctx: StepContext, service: str, replicas: int | None, min_replicas: int | None,
              max_replicas: int | None) -> VerbResult[ScaleOutcome]:
        raise self._lacks(ServiceOps, "scale")

    def restart(self, ctx: StepContext, service: str) -> VerbResult[RestartOutcome]:
        raise self._lacks(ServiceOps, "restart")

    def status(self, ctx: StepContext, service: str) -> VerbResult[ServiceStatus]:
        raise self._lacks(ServiceOps, "status")

    def config(self, ctx: StepContext, service: str, files: dict[str, bytes], restart: bool) -> VerbResult[ConfigOutcome]:
        raise self._lacks(ServiceOps, "config")

    def secret(self, ctx: StepContext, service: str, values: dict[str, str], restart: bool) -> VerbResult[SecretOutcome]:
        raise self._lacks(ServiceOps, "secret")

    def certificate(self, ctx: StepContext, request: CertificateRequest) -> VerbResult[CertificateOutcome]:
        raise self._lacks(ServiceOps, "certificate")

    def logs(self, ctx: StepContext, service: str, tail: int, grep: str | None, *, since: int | None = None,
             previous: bool = False) -> VerbResult[LogLines]:
        raise self._lacks(ServiceOps, "logs")

    def fetch(self, ctx: StepContext, service: str, src: str, dest: Path, shown_dest: str) -> VerbResult[FetchOutcome]:
        raise self._lacks(ServiceOps, "fetch")

    def upload(self, ctx: StepContext, service: str, src: Path, dest: str, mode: int | None,
               shown_src: str) -> VerbResult[UploadOutcome]:
        raise self._lacks(ServiceOps, "upload")

    def usage(self, ctx: StepContext, service: str) -> VerbResult[UsageOutcome]:
        raise self._lacks(ServiceOps, "usage")

    def exec(self, ctx: StepContext, service: str, command: list[str] | str, *, container: str | None = None,
             pod: str | None = None, stdin: str | None = None) -> VerbResult[ExecOutcome]:
        raise self._lacks(ServiceOps, "exec")

    def endpoints(self, ctx: StepContext, service: str) -> VerbResult[EndpointsOutcome]:
        raise self._lacks(ServiceOps, "endpoints")

    def environment(self, ctx: StepContext, service: str) -> VerbResult[EnvironmentOutcome]:
        raise self._lacks(ServiceOps, "environment")

    def live_workspace(self, ctx: StepContext, service: str) -> AbstractContextManager[Workspace]:
        raise self._lacks(ServiceData, "reaching the service's files")

    def offline(self, ctx: StepContext, service: str) -> AbstractContextManager[Workspace]:
        raise self._lacks(ServiceData, "stopping the service for file work")
