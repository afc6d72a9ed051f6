"""Delivery metrics (DORA-style) read from the journal, in the Prometheus text format.

A reader, not a listener: `read_moves()` turns the journal's task results into
deploy and rollback steps per environment (the run's inventory) and service;
`compute()` counts them; `render()` writes the exposition text
(`ajudaplay metrics`, docs/metrics.md).

What the journal records, and so what a step is here:
- a *move* is a task result of a non-check run whose diff holds "<service>
  image: BEFORE -> AFTER" (what deploy and rollback write on every mode);
- a move is a *rollback* when its step's action was `rollback` (journal schema
  3 records it); in results journaled before that, when AFTER is an image the
  service ran before on that target of that environment (an earlier move's
  BEFORE, or the AFTER of an earlier move that succeeded) and it was not an
  atomic undo; every other move is a *deploy*;
- a deploy's outcome is `rolled_back` when the result says an atomic deploy was
  undone (results.rolled_back), `failed` when its status is a failure or a
  later step of the same run on the same target failed before the next move
  (deploy.yml's health check), else `succeeded`.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Literal

from ajudaplay.journal.connection import DEFAULT_TIMEOUT, describe

__all__ = ["BUCKETS", "Move", "ServiceMetrics", "compute", "read_moves", "render"]

Kind = Literal["deploy", "rollback"]
DeployOutcome = Literal["succeeded", "failed", "rolled_back"]
OUTCOMES: tuple[DeployOutcome, ...] = ("succeeded", "failed", "rolled_back")
FAILED_STATUSES = frozenset({"failed", "unreachable", "ignored", "rescued", "interrupted"})
BUCKETS: tuple[float, ...] = (10, 60, 300, 900, 1800, 3600, 7200, 21600, 86400)  # seconds; +Inf added
_IMAGE_CHANGE = re.compile(r"^(?P<service>\S+) image: (?P<before>.*) -> (?P<after>.*)$")


@dataclass
class Move:
    """One deploy or rollback of a service, as far as the journal tells it."""

    environment: str
    service: str
    target: str
    run_id: str
    before: str | None
    after: str | None
    started: float
    ended: float
    status: str
    undone: bool  # an atomic deploy that was rolled back (results.rolled_back)
    action: str | None = None  # the step's action as journaled (None in journals older than schema 3)
    kind: Kind = "deploy"
    outcome: DeployOutcome = "succeeded"
    later_failure: bool = False  # a later step of the same run on the same target failed

    @property
    def ok(self) -> bool:
        return not self.undone and self.status not in FAILED_STATUSES and not self.later_failure


@dataclass
class ServiceMetrics:
    """The numbers of one (environment, service)."""

    deployments: dict[str, int] = field(default_factory=lambda: {o: 0 for o in OUTCOMES})
    rollbacks: int = 0
    failed_changes: int = 0  # deploys undone, or followed within the window by a rollback
    restores: list[float] = field(default_factory=list)  # seconds, one per restore
    last_success: float | None = None

    @property
    def deploys(self) -> int:
        return sum(self.deployments.values())


def _image(text: str) -> str | None:
    text = text.strip()
    return None if text in ("", "-") else text


def _image_changes(diff: str) -> dict[str, tuple[str | None, str | None]]:
    """service -> (first before, last after) of the diff's "<service> image: A -> B" entries."""
    found: dict[str, tuple[str | None, str | None]] = {}
    for part in diff.split("; "):
        match = _IMAGE_CHANGE.match(part.strip())
        if match is None:
            continue
        service, before, after = match["service"], _image(match["before"]), _image(match["after"])
        found[service] = (found[service][0], after) if service in found else (before, after)
    return found


_RESULTS = (
    "SELECT r.run_id, runs.inventory, r.target, r.status, r.diff, r.rolled_back, r.started_at, r.duration, {action} "
    "FROM results r JOIN runs ON runs.id = r.run_id WHERE runs.check_mode = 0 {where} "
    "AND (r.diff LIKE '% image: %' OR r.status IN ({failed})) "  # moves, and the failures that follow them
    "ORDER BY r.run_id, r.target, r.id"
)


def read_moves(path: Path, environment: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> list[Move]:
    """Every move of the journal at `path` (read-only; none when the file does not exist), oldest first."""
    path = Path(path).expanduser()
    if not path.is_file():
        return []
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout)
    except sqlite3.Error as exc:
        raise describe(path, exc, timeout) from exc
    try:
        where, params = ("AND runs.inventory = ?", (environment,)) if environment else ("", ())
        failed = ", ".join(f"'{status}'" for status in sorted(FAILED_STATUSES))
        columns = {row[1] for row in conn.execute("PRAGMA table_info(results)")}
        action = "r.action" if "action" in columns else "NULL"  # a journal not yet migrated to schema 3
        rows = conn.execute(_RESULTS.format(where=where, failed=failed, action=action), params).fetchall()
    except sqlite3.Error as exc:
        raise describe(path, exc, timeout) from exc
    finally:
        conn.close()
    moves: list[Move] = []
    last: dict[tuple[str, str], list[Move]] = {}  # (run, target) -> the moves of its latest moving step
    for run_id, env, target, status, diff, undone, started, duration, action in rows:
        changes = _image_changes(diff or "")
        step = [Move(str(env), service, str(target), str(run_id), before, after, float(started),
                     float(started) + float(duration), str(status), bool(undone), action)
                for service, (before, after) in changes.items() if undone or before != after]
        if step:
            last[(run_id, target)] = step
            moves.extend(step)
        elif status in FAILED_STATUSES:
            for move in last.get((run_id, target), []):
                move.later_failure = True
    moves.sort(key=lambda m: (m.started, m.ended))
    _classify(moves)
    return moves


def _classify(moves: list[Move]) -> None:
    """Set kind and outcome, in time order: a rollback goes back to an image the service ran there before."""
    ran: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for move in moves:
        seen = ran[(move.environment, move.target, move.service)]
        if move.action in ("deploy", "rollback"):
            move.kind = "rollback" if move.action == "rollback" else "deploy"
        elif not move.undone and move.after is not None and move.after in seen:
            move.kind = "rollback"
        move.outcome = "rolled_back" if move.undone else ("succeeded" if move.ok else "failed")
        if move.before is not None:
            seen.add(move.before)
        if move.ok and move.after is not None:
            seen.add(move.after)


def compute(moves: Iterable[Move], failure_window: float = 3600.0) -> dict[tuple[str, str], ServiceMetrics]:
    """(environment, service) -> its numbers; see docs/metrics.md for each rule.

    A rollback is charged to the latest deploy on its own target (an environment may run the service
    on several targets, each deployed and rolled back by the same run). The service is down from the
    first failed deploy on any of its targets until every target that failed has had a good move since.
    """
    per: dict[tuple[str, str], list[Move]] = defaultdict(list)
    for move in sorted(moves, key=lambda m: (m.started, m.ended)):
        per[(move.environment, move.service)].append(move)
    out: dict[tuple[str, str], ServiceMetrics] = {}
    for key, history in sorted(per.items()):
        m = out[key] = ServiceMetrics()
        last_deploy: dict[str, Move] = {}  # target -> its latest deploy not yet charged
        down: set[str] = set()  # targets whose last deploy failed and that had no good move since
        down_since = 0.0
        for move in history:
            if move.kind == "deploy":
                m.deployments[move.outcome] += 1
                if move.undone:
                    m.failed_changes += 1
                    last_deploy.pop(move.target, None)  # counted: a later rollback is not charged to it again
                else:
                    last_deploy[move.target] = move
                if move.outcome == "succeeded":
                    m.last_success = move.ended
            else:
                m.rollbacks += 1
                charged = last_deploy.pop(move.target, None)
                if charged is not None and move.started - charged.ended <= failure_window:
                    m.failed_changes += 1
            if move.ok and move.target in down:
                down.discard(move.target)
                if not down:
                    m.restores.append(max(0.0, move.ended - down_since))
            elif not move.ok and move.kind == "deploy":
                if not down:
                    down_since = move.started
                down.add(move.target)
    return out


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{name}="{_escape(value)}"' for name, value in labels.items()) + "}"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


_FAMILIES = (
    ("ajudaplay_deployments_total", "counter",
     "Deploy steps journaled per environment and service, by outcome (succeeded, failed, rolled_back)."),
    ("ajudaplay_rollbacks_total", "counter",
     "Rollbacks journaled per environment and service (steps that moved the service back to an image it ran before)."),
    ("ajudaplay_change_failure_ratio", "gauge",
     "Deploys undone atomically or followed by a rollback within the failure window, over all deploys."),
    ("ajudaplay_time_to_restore_seconds", "histogram",
     "Seconds from a failed deploy to the next healthy deploy or rollback of the same service."),
    ("ajudaplay_last_successful_deploy_timestamp_seconds", "gauge",
     "Unix time the last successful deploy of the service finished."),
)


def render(metrics: dict[tuple[str, str], ServiceMetrics]) -> str:
    """The Prometheus text exposition format (version 0.0.4) of `metrics`."""
    lines: dict[str, list[str]] = {name: [] for name, _, _ in _FAMILIES}
    for (environment, service), m in sorted(metrics.items()):
        base = {"environment": environment, "service": service}
        for outcome in OUTCOMES:
            lines["ajudaplay_deployments_total"].append(
                f"ajudaplay_deployments_total{_labels(**base, outcome=outcome)} {m.deployments[outcome]}")
        lines["ajudaplay_rollbacks_total"].append(f"ajudaplay_rollbacks_total{_labels(**base)} {m.rollbacks}")
        if m.deploys:
            lines["ajudaplay_change_failure_ratio"].append(
                f"ajudaplay_change_failure_ratio{_labels(**base)} {_number(m.failed_changes / m.deploys)}")
        hist = lines["ajudaplay_time_to_restore_seconds"]
        for bound in (*BUCKETS, math.inf):
            count = sum(1 for seconds in m.restores if seconds <= bound)
            hist.append(f"ajudaplay_time_to_restore_seconds_bucket{_labels(**base, le=_number(bound))} {count}")
        hist.append(f"ajudaplay_time_to_restore_seconds_sum{_labels(**base)} {_number(sum(m.restores))}")
        hist.append(f"ajudaplay_time_to_restore_seconds_count{_labels(**base)} {len(m.restores)}")
        if m.last_success is not None:
            lines["ajudaplay_last_successful_deploy_timestamp_seconds"].append(
                f"ajudaplay_last_successful_deploy_timestamp_seconds{_labels(**base)} {_number(m.last_success)}")
    out: list[str] = []
    for name, kind, text in _FAMILIES:
        out += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", *lines[name]]
    return "\n".join(out) + "\n"
