"""JSON Lines events for CI: one object per engine event, flushed at once so CI can tail it.

Field names are stable and documented in docs/ci-recipes.md; times are ISO 8601
UTC strings; anything JSON cannot hold is converted with str().
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
from pathlib import PurePath
from typing import Any, TextIO

from ajudaplay.engine.events import (
    Event,
    InputProblem,
    Message,
    PlayStarted,
    Progress,
    RunFinished,
    RunStarted,
    TaskResult,
    TaskStarted,
)
from ajudaplay.errors import Diagnostic
from ajudaplay.report.common import Tally, iso_utc

SCHEMA_VERSION = 1


def jsonable(value: Any) -> Any:
    """A copy of `value` that json.dumps accepts: str keys, finite numbers, str() for the rest."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [jsonable(v) for v in items]
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_dt.timezone.utc)
            return value.isoformat().replace("+00:00", "Z")
        return value.isoformat()
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, PurePath):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    return str(value)


def event_record(event: Event, started_at: float | None = None) -> dict[str, Any]:
    """The documented JSON object for one event (without the run_end stats fallback)."""
    if isinstance(event, RunStarted):
        return {
            "event": "run_start",
            "schema": SCHEMA_VERSION,
            "run_id": event.run_id,
            "playbook": event.playbook,
            "inventory": event.inventory,
            "user": event.user,
            "started_at": iso_utc(event.started_at),
            "check": event.check,
            "options": event.extra,
        }
    if isinstance(event, PlayStarted):
        return {"event": "play_start", "run_id": event.run_id, "play": event.play, "targets": event.targets}
    if isinstance(event, TaskStarted):
        return {
            "event": "task_start",
            "run_id": event.run_id,
            "play": event.play,
            "task": event.task,
            "location": event.location,
            "targets": event.targets,
            "handler": event.handler,
        }
    if isinstance(event, TaskResult):
        result = event.result
        return {
            "event": "task_result",
            "run_id": event.run_id,
            "play": event.play,
            "task": event.task,
            "target": event.target,
            "status": event.status,
            "changed": result.changed,
            "started_at": iso_utc(event.started_at),
            "duration": round(event.duration, 3),
            "msg": event.error or result.msg,
            "item": event.item,
            "handler": event.handler,
            "diff": [
                {"what": c.what, "before": c.before, "after": c.after, "unified": c.unified}
                for c in result.changes
            ],
            "data": result.data,
            "warnings": result.warnings,
            "revisions": [
                {"service": r.service, "before": r.before, "after": r.after, "image": r.image}
                for r in result.revisions
            ],
            "rolled_back": result.rolled_back,
        }
    if isinstance(event, Message):
        return {
            "event": "message",
            "run_id": event.run_id,
            "target": event.target,
            "level": event.level,
            "text": event.text,
        }
    if isinstance(event, Progress):
        return {
            "event": "progress",
            "run_id": event.run_id,
            "target": event.target,
            "task": event.task,
            "text": event.text,
            "elapsed": round(event.elapsed, 1),
        }
    if isinstance(event, InputProblem):
        return diagnostic_record(event.diagnostic, event.run_id)
    duration = None if started_at is None else round(max(0.0, event.finished_at - started_at), 3)
    return {
        "event": "run_end",
        "run_id": event.run_id,
        "outcome": event.outcome,
        "exit_code": event.exit_code,
        "finished_at": iso_utc(event.finished_at),
        "duration": duration,
        "message": event.message,
        "stats": {},
    }


def diagnostic_record(diagnostic: Diagnostic, run_id: str | None = None) -> dict[str, Any]:
    """The `diagnostic` event: one problem of an input refused before anything ran."""
    mark = diagnostic.mark
    record: dict[str, Any] = {"event": "diagnostic"} if run_id is None else {"event": "diagnostic", "run_id": run_id}
    record.update(
        file=mark.file if mark else None,
        line=mark.line if mark else None,
        column=mark.column if mark else None,
        location=str(mark) if mark else None,
        path=diagnostic.path,
        message=diagnostic.message,
        hint=diagnostic.hint,
    )
    return record


def validate_records(paths: list[str], diagnostics: list[Diagnostic], skipped: tuple[str, ...]) -> list[dict[str, Any]]:
    """`validate --output json`: one `diagnostic` per problem, then `validate_end`."""
    records = [diagnostic_record(d) for d in diagnostics]
    records.append({
        "event": "validate_end",
        "schema": SCHEMA_VERSION,
        "paths": paths,
        "outcome": "invalid" if diagnostics else "ok",
        "exit_code": 3 if diagnostics else 0,
        "problems": len(diagnostics),
        "skipped": list(skipped),
    })
    return records


class JsonLinesReporter:
    """The engine `Listener` behind `--output json`: writes each event as one JSON line."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._tally = Tally()
        self._started_at: float | None = None
        self._broken = False

    def handle(self, event: Event) -> None:
        """Write one line and flush; a closed pipe silences the reporter instead of failing."""
        if isinstance(event, RunStarted):
            self._started_at = event.started_at
        elif isinstance(event, PlayStarted):
            for target in event.targets:
                self._tally.add_target(target)
        elif isinstance(event, TaskResult):
            self._tally.add(event)
        record = event_record(event, self._started_at)
        if isinstance(event, RunFinished):
            record["stats"] = self._tally.stats(event.stats)
        self._write(record)

    def _write(self, record: dict[str, Any]) -> None:
        if self._broken:
            return
        line = json.dumps(jsonable(record), ensure_ascii=False, allow_nan=False)
        try:
            self._stream.write(line + "\n")
            self._stream.flush()
        except (OSError, ValueError):  # EPIPE / closed stream: CI stopped reading
            self._broken = True

    def close(self) -> None:
        """Flush what was written; the stream belongs to the caller and stays open."""
        if self._broken:
            return
        try:
            self._stream.flush()
        except (OSError, ValueError):
            self._broken = True


__all__ = ["JsonLinesReporter", "diagnostic_record", "event_record", "jsonable", "validate_records"]
