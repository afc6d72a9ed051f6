"""Small helpers every reporter shares: time formats and per-target counters."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field, fields

from ajudaplay.engine.events import TargetStats, TaskResult

STAT_NAMES: tuple[str, ...] = tuple(f.name for f in fields(TargetStats))


def iso_utc(epoch: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC with a Z suffix (what CI tools parse)."""
    if epoch is None:
        return None
    moment = _dt.datetime.fromtimestamp(epoch, _dt.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def human_utc(epoch: float | None) -> str:
    """Epoch seconds as 'YYYY-MM-DD HH:MM:SS' UTC, for tables."""
    if epoch is None:
        return "-"
    return f"{_dt.datetime.fromtimestamp(epoch, _dt.timezone.utc):%Y-%m-%d %H:%M:%S}"


def human_duration(seconds: float | None) -> str:
    """1.2s, 3m04s, 1h02m: short enough for a table column."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


@dataclass
class Tally:
    """Counts results per target, for when RunFinished carries no stats of its own."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def add_target(self, target: str) -> None:
        self.counts.setdefault(target, {name: 0 for name in STAT_NAMES})

    def add(self, event: TaskResult) -> None:
        self.count(event.target, event.status, event.result.rolled_back)

    def count(self, target: str, status: str, rolled_back: bool = False) -> None:
        """One result (an event, or a journal row: they count alike)."""
        self.add_target(target)
        per_target = self.counts[target]
        per_target[status] = per_target.get(status, 0) + 1
        if rolled_back:
            per_target["rolled_back"] += 1

    def stats(self, reported: dict[str, TargetStats]) -> dict[str, dict[str, int]]:
        """The engine's stats when it sent them (it knows best), else our own counts."""
        if reported:
            return {
                target: {name: int(getattr(stats, name)) for name in STAT_NAMES}
                for target, stats in reported.items()
            }
        return {target: dict(values) for target, values in self.counts.items()}
