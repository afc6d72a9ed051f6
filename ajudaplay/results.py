"""What one step did on one target: the engine's interface to every action.

A leaf module (it imports nothing from ajudaplay at run time), apart from the
typed outcomes (ajudaplay/outcomes.py) that service verbs build on it, so that
actions which never touch a service (control and host actions) and `validate`
do not pay for loading them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ajudaplay.outcomes import Outcome


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
    """What one action did on one target: the engine's interface. `data` is what `register` stores.

    A service verb's Result is made by `to_result` from its typed `outcome`;
    control and host actions build a Result directly (no outcome).
    """

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
    outcome: Outcome | None = None  # the typed answer of a service verb (outcomes.VerbResult)

    def diff_summary(self) -> str:
        return "; ".join(c.summary() for c in self.changes)
