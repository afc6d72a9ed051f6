"""Rows the journal returns: plain dataclasses, so `history`/`show` never touch SQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RunRow:
    """One run as `ajudaplay history` lists it, with per-status result counts."""

    id: str
    playbook: str
    inventory: str
    user: str
    host: str
    started_at: float
    finished_at: float | None
    outcome: str  # "running" until RunFinished arrives; "abandoned" when its process died
    exit_code: int | None
    check_mode: bool
    counts: dict[str, int] = field(default_factory=dict)  # status -> results, plus "rolled_back"
    last_step: str = ""  # the step it started last ("TASK on targets"); "" in journals before v2

    @property
    def duration(self) -> float | None:
        """Seconds the run took; None while it is running (or was killed)."""
        if self.finished_at is None:
            return None
        return max(0.0, self.finished_at - self.started_at)


@dataclass(frozen=True)
class ResultRow:
    """One task result on one target, as journaled when it arrived."""

    play: str
    task: str
    target: str
    status: str
    changed: bool
    duration: float
    started_at: float
    diff: str
    msg: str
    item: str | None
    handler: bool
    rolled_back: bool


@dataclass(frozen=True)
class RevisionRow:
    """A service on a target moved from one revision to another during a run."""

    run_id: str
    target: str
    service: str
    before: str | None
    after: str | None
    image: str | None
    at: float


@dataclass(frozen=True)
class RunDetail:
    """Everything `ajudaplay show RUN` prints: the run, its results, its revision changes."""

    run: RunRow
    options: dict[str, Any]
    message: str
    results: list[ResultRow]
    revisions: list[RevisionRow]
