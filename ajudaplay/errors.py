"""The exception tree: one root, subclasses that say where and what to do.

    AjudaplayError
     ├── InvalidInput          bad playbook/inventory/arguments: file:line:col diagnostics
     ├── TemplateError         a template failed (undefined variable, sandbox refusal)
     ├── TargetError           something went wrong on a target (retryable or not)
     │    ├── TargetUnreachable  cannot connect (SSH down, API server unreachable)
     │    ├── NotApplicable      this target kind cannot do that action
     │    └── UnknownService     the inventory has no such service for this target
     ├── LockHeld              another run holds the environment lock
     ├── LockLost              this run lost its lock mid-run (taken over, removed, not renewable)
     ├── JournalError          the SQLite journal cannot be opened or written
     └── Interrupted           Ctrl-C / SIGTERM

Third-party errors (ApiException, paramiko, docker) are translated at the target
boundary with ``raise ... from`` so the original stays chained for `-vv`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mark:
    """A position in a source file (1-based line and column), for error messages."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Diagnostic:
    """One problem in user input: where, what was expected, and how to fix it."""

    mark: Mark | None
    message: str
    hint: str = ""
    path: str = ""  # dotted location in the document, e.g. "plays[0].tasks[2].deploy.image"

    def __str__(self) -> str:
        where = f"{self.mark}: " if self.mark else ""
        what = f"{self.path}: {self.message}" if self.path else self.message
        hint = f"\n    hint: {self.hint}" if self.hint else ""
        return f"{where}{what}{hint}"


class AjudaplayError(Exception):
    """Root of every error ajudaplay raises on purpose."""


class InvalidInput(AjudaplayError):
    """User input is wrong; carries every diagnostic found, not just the first."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class TemplateError(AjudaplayError):
    """A Jinja2 template could not be rendered; names the variable and the position."""

    def __init__(self, message: str, mark: Mark | None = None, hint: str = "") -> None:
        self.mark = mark
        self.hint = hint
        self.diagnostic = Diagnostic(mark, message, hint)
        super().__init__(str(self.diagnostic))


class TargetError(AjudaplayError):
    """An action failed on a target. `retryable` says whether trying again may help."""

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable


class TargetUnreachable(TargetError):
    """The target's host or API cannot be reached; counted as `unreachable` in the recap."""

    retryable = True


class NotApplicable(TargetError):
    """This deployment mode cannot do what was asked (e.g. HPA bounds on Compose)."""


class UnknownService(TargetError):
    """The playbook names a service the inventory does not map for this target."""

    def __init__(self, service: str, target: str, known: list[str]) -> None:
        listed = ", ".join(sorted(known)) or "none"
        super().__init__(
            f"target {target!r} has no service {service!r}; the inventory defines: {listed}"
        )
        self.service = service


@dataclass(frozen=True)
class LockInfo:
    """Who holds an environment lock and until when (epoch seconds)."""

    holder: str  # "user@host"
    run_id: str
    acquired_at: float
    expires_at: float
    target: str = ""

    def describe(self) -> str:
        import datetime as _dt

        until = _dt.datetime.fromtimestamp(self.expires_at, _dt.timezone.utc)
        return f"{self.holder} (run {self.run_id}, expires {until:%Y-%m-%d %H:%M:%S} UTC)"


class LockHeld(AjudaplayError):
    """Another run holds the lock on a target; says who."""

    def __init__(self, target: str, info: LockInfo) -> None:
        self.target = target
        self.info = info
        super().__init__(f"target {target!r} is locked by {info.describe()}")


class LockLost(AjudaplayError):
    """This run no longer holds a target's lock: taken over, removed, or not renewed in time.

    `info` names the new holder when there is one. The engine stops that
    target's steps and fails the run (exit 2): another run may be changing it.
    """

    def __init__(self, target: str, reason: str, info: LockInfo | None = None) -> None:
        self.target = target
        self.reason = reason
        self.info = info
        super().__init__(f"target {target!r}: lock lost: {reason}")


class JournalError(AjudaplayError):
    """The journal database cannot be opened or written."""


class Interrupted(AjudaplayError):
    """The run was interrupted (Ctrl-C or SIGTERM)."""
