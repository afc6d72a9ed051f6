"""JSON Lines events: every line parses, field names are the documented ones, lines are flushed."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

from ajudaplay.engine.events import Event, RunStarted, TaskResult
from ajudaplay.report.jsonl import JsonLinesReporter
from ajudaplay.targets.base import Result
from tests.report import scripted
from tests.report.conftest import feed
from tests.markdown_sections import sections

DOCUMENTED = {
    "run_start": {"event", "schema", "run_id", "playbook", "inventory", "user", "started_at", "check", "options"},
    "play_start": {"event", "run_id", "play", "targets"},
    "task_start": {"event", "run_id", "play", "task", "location", "targets", "handler"},
    "task_result": {"event", "run_id", "play", "task", "target", "status", "changed", "started_at",
                    "duration", "msg", "item", "handler", "diff", "data", "warnings", "revisions",
                    "rolled_back"},
    "message": {"event", "run_id", "target", "level", "text"},
    "progress": {"event", "run_id", "target", "task", "text", "elapsed"},
    "diagnostic": {"event", "run_id", "file", "line", "column", "location", "path", "message", "hint"},
    "run_end": {"event", "run_id", "outcome", "exit_code", "finished_at", "duration", "message", "stats"},
}


def lines_for(events: list[Event]) -> list[dict[str, object]]:
    stream = io.StringIO()
    feed(JsonLinesReporter(stream), events)
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_one_parsable_object_per_event_with_documented_fields(run_events: list[Event]) -> None:
    records = lines_for(run_events)
    assert len(records) == len(run_events)
    for record in records:
        assert set(record) == DOCUMENTED[str(record["event"])], record["event"]
        assert record["run_id"] == scripted.RUN_ID


def test_documented_fields_match_docs() -> None:
    """Each event's fields are named in that event's own `### "event"` section of docs/ci-recipes.md."""
    doc = sections((Path(__file__).parents[2] / "docs" / "ci-recipes.md").read_text())
    for event, fields in DOCUMENTED.items():
        assert event in doc, f'no ### `"{event}"` section in docs/ci-recipes.md'
        missing = sorted(name for name in fields if f"`{name}`" not in doc[event])
        assert not missing, f"{event}: fields not in its section: {missing}"


def test_task_result_and_run_end_content(run_events: list[Event]) -> None:
    records = lines_for(run_events)
    failed = next(r for r in records if r.get("status") == "failed")
    assert failed["target"] == "small" and failed["rolled_back"] is True
    assert failed["msg"] == "health check failed: GET /health returned 503"
    changed = next(r for r in records if r.get("task") == "nginx config" and r.get("target") == "cluster")
    assert changed["diff"][0]["what"] == "config nginx.conf"  # type: ignore[index]
    assert "+worker_connections 1024;" in changed["diff"][0]["unified"]  # type: ignore[index]
    assert records[0]["started_at"] == "2024-05-01T12:00:00.000Z"
    end = records[-1]
    assert end["event"] == "run_end" and end["exit_code"] == 2 and end["outcome"] == "failed"
    assert end["duration"] == 12.5
    assert end["stats"] == scripted.EXPECTED_STATS


def test_odd_data_is_converted_not_fatal() -> None:
    class Opaque:
        def __str__(self) -> str:
            return "opaque-thing"

    when = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)
    data: dict[Any, Any] = {"when": when, "obj": Opaque(), "nan": float("nan"), (1, 2): {b"raw"}, "path": Path("/etc/x")}
    event = TaskResult(scripted.RUN_ID, "p", "t", "h", "ok", Result(data=data), 0.1, scripted.T0)
    record = lines_for([event])[0]
    assert record["data"] == {
        "when": "2024-05-01T12:00:00Z", "obj": "opaque-thing", "nan": None, "(1, 2)": ["raw"], "path": "/etc/x",
    }


def test_each_line_is_flushed_as_it_is_written() -> None:
    class Tail(io.StringIO):
        flushed: list[str] = []

        def flush(self) -> None:
            self.flushed.append(self.getvalue())

    stream = Tail()
    reporter = JsonLinesReporter(stream)
    reporter.handle(RunStarted(scripted.RUN_ID, "pb.yml", "prod", "alice", scripted.T0, False))
    assert stream.flushed and stream.flushed[-1].endswith("\n")
    assert json.loads(stream.flushed[-1])["event"] == "run_start"


def test_doc_examples_parse_and_use_the_documented_fields() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "ci-recipes.md").read_text()
    examples = [json.loads(line) for line in doc.splitlines() if line.startswith('{"event"')]
    assert {e["event"] for e in examples} >= {"run_start", "task_result", "run_end"}
    for example in examples:
        assert set(example) == DOCUMENTED[example["event"]], example["event"]
