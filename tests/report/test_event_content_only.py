"""Reporters print only what came in events: a redacted event leaks nothing anywhere."""

from __future__ import annotations

import io
import json
from pathlib import Path

from ajudaplay.engine.events import Event, Message, TaskResult
from ajudaplay.journal import Journal
from ajudaplay.redaction import PLACEHOLDER, Redactor
from ajudaplay.report.console import ConsoleReporter
from ajudaplay.report.history import print_run
from ajudaplay.report.jsonl import JsonLinesReporter
from ajudaplay.report.junit import JUnitReporter
from ajudaplay.targets.base import Change, Result
from tests.report import scripted
from tests.report.conftest import feed

SECRET = "hunter2-db-password"


def redacted_events() -> list[Event]:
    """What the engine hands listeners after its Redactor ran over the secret-bearing events."""
    redactor = Redactor([SECRET])
    result = Result(changed=True, msg=f"set DB_PASSWORD={SECRET}",
                    changes=[Change("secret api-env", None, SECRET)], data={"stdout": f"pw {SECRET}"})
    raw: list[Event] = [
        TaskResult(scripted.RUN_ID, scripted.PLAY, "update secret", "cluster", "changed", result, 0.3,
                   scripted.T0 + 1, error=""),
        Message(scripted.RUN_ID, "cluster", "warning", f"restarting with {SECRET}"),
    ]
    clean: list[Event] = []
    for event in raw:
        if isinstance(event, TaskResult):
            r = event.result
            r2 = Result(changed=r.changed, msg=redactor.text(r.msg),
                        changes=[Change(c.what, c.before, redactor.text(c.after or "")) for c in r.changes],
                        data=redactor.data(r.data))
            clean.append(TaskResult(event.run_id, event.play, event.task, event.target, event.status, r2,
                                    event.duration, event.started_at))
        elif isinstance(event, Message):
            clean.append(Message(event.run_id, event.target, event.level, redactor.text(event.text)))
    events = scripted.events()
    return events[:2] + clean + events[-1:]


def _raw_journal(path: Path) -> str:
    """The journal's bytes on disk, database and write-ahead log, as text a secret could hide in."""
    wal = path.with_name(path.name + "-wal")
    raw = path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    return raw.decode("latin-1")


def test_no_reporter_prints_more_than_the_events_carry(tmp_path: Path) -> None:
    events = redacted_events()
    console, jsonl = io.StringIO(), io.StringIO()
    feed(ConsoleReporter(console, verbosity=2, show_diff=True), events)
    feed(JsonLinesReporter(jsonl), events)
    feed(JUnitReporter(tmp_path / "junit.xml"), events)
    journal = Journal.open(tmp_path / "journal.sqlite")
    feed(journal.listener(), events)
    shown = io.StringIO()
    detail = journal.run(scripted.RUN_ID)
    assert detail is not None
    print_run(detail, shown)
    print_run(detail, shown, as_json=True)
    journal.close()
    outputs = {
        "console": console.getvalue(),
        "jsonl": jsonl.getvalue(),
        "junit": (tmp_path / "junit.xml").read_text(),
        "journal": _raw_journal(tmp_path / "journal.sqlite"),
        "show": shown.getvalue(),
    }
    assert f"set DB_PASSWORD={PLACEHOLDER}" in outputs["journal"]  # the raw check reads the real rows
    for name, text in outputs.items():
        assert SECRET not in text, name
    for name in ("console", "jsonl", "show"):
        assert PLACEHOLDER in outputs[name], name
    assert json.loads(outputs["jsonl"].splitlines()[2])["data"]["stdout"] == f"pw {PLACEHOLDER}"
