"""Events the engine emits; the console, JSON, JUnit and journal all listen to these."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ajudaplay.errors import Diagnostic
from ajudaplay.targets.base import Result

# "interrupted": the step was running when Ctrl-C / SIGTERM arrived and was stopped (its command killed)
Status = Literal["ok", "changed", "failed", "skipped", "unreachable", "ignored", "rescued", "interrupted"]
Outcome = Literal["success", "failed", "invalid", "lock_held", "interrupted", "error"]


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    playbook: str
    inventory: str
    user: str
    started_at: float
    check: bool
    extra: dict[str, Any] = field(default_factory=dict)  # limit, tags, ...


@dataclass(frozen=True)
class PlayStarted:
    run_id: str
    play: str
    targets: list[str]


@dataclass(frozen=True)
class TaskStarted:
    run_id: str
    play: str
    task: str
    location: str  # "file:line:col"
    targets: list[str]
    handler: bool = False


@dataclass(frozen=True)
class TaskResult:
    run_id: str
    play: str
    task: str
    target: str
    status: Status
    result: Result
    duration: float
    started_at: float
    item: Any = None  # loop item, when looping
    handler: bool = False
    error: str = ""  # message when failed/unreachable
    action: str = ""  # the task's action (deploy, rollback, ...); "" for results the engine makes (the lock)


@dataclass(frozen=True)
class Message:
    """A warning or progress note for one target (e.g. HPA will override replicas)."""

    run_id: str
    target: str
    level: Literal["info", "warning", "debug"]
    text: str


@dataclass(frozen=True)
class Progress:
    """A long wait of one target's step: what it waits for, and for how long so far.

    Sent when what is awaited changes, and at most every few seconds while it
    stays the same (engine/progress.py); the console turns it into a live line
    on a terminal and a line every 10 s on a pipe, JSON Lines into `progress`.
    """

    run_id: str
    target: str
    task: str
    text: str  # "waiting for api: 1/2 ready"
    elapsed: float  # seconds since this wait began


@dataclass(frozen=True)
class TargetStats:
    ok: int = 0
    changed: int = 0
    failed: int = 0
    skipped: int = 0
    unreachable: int = 0
    ignored: int = 0
    rescued: int = 0
    rolled_back: int = 0
    interrupted: int = 0


@dataclass(frozen=True)
class RunFinished:
    run_id: str
    outcome: Outcome
    exit_code: int
    finished_at: float
    stats: dict[str, TargetStats]
    message: str = ""


@dataclass(frozen=True)
class InputProblem:
    """One diagnostic of a run refused before it touched a target (its RunFinished says `invalid`)."""

    run_id: str
    diagnostic: Diagnostic


Event = RunStarted | PlayStarted | TaskStarted | TaskResult | Message | Progress | InputProblem | RunFinished


class Listener(Protocol):
    """Receives every event in order; must not raise (errors are the listener's own)."""

    def handle(self, event: Event) -> None: ...

    def close(self) -> None: ...
