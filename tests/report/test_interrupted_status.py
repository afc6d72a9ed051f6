"""An `interrupted` task result in every report: console line and recap, JSON Lines stats, JUnit error, journal."""

from __future__ import annotations

import io
import json
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import xmlschema

from ajudaplay.engine.events import Event, PlayStarted, RunFinished, RunStarted, TargetStats, TaskResult, TaskStarted
from ajudaplay.report.console import ConsoleReporter
from ajudaplay.report.jsonl import JsonLinesReporter
from ajudaplay.report.junit import JUnitReporter
from ajudaplay.targets.base import Result
from tests.report.conftest import feed

RUN = "run-interrupted-1"
MSG = "box: the running command was stopped"


def _events() -> list[Event]:
    return [
        RunStarted(RUN, "p.yml", "test", "alice", 1000.0, False),
        PlayStarted(RUN, "play", ["box", "other"]),
        TaskStarted(RUN, "play", "long", "p.yml:3:7", ["box", "other"]),
        TaskResult(RUN, "play", "long", "other", "ok", Result(), 0.5, 1000.1),
        TaskResult(RUN, "play", "long", "box", "interrupted", Result(failed=True, msg=MSG), 2.0, 1000.1, error=MSG),
        RunFinished(RUN, "interrupted", 130, 1003.0,
                    {"box": TargetStats(interrupted=1), "other": TargetStats(ok=1)}, "interrupted by a signal"),
    ]


def test_console_line_recap_and_summary() -> None:
    stream = io.StringIO()
    feed(ConsoleReporter(stream, color=False), _events())
    out = stream.getvalue()
    assert f"interrupted: [box] {MSG}" in out.splitlines()
    recap = out.split("PLAY RECAP", 1)[1]
    box = next(line for line in recap.splitlines() if line.startswith("box"))
    assert "interrupted=1" in box and "failed=0" in box
    assert f"interrupted: [box] long: {MSG}" in recap
    assert f"run {RUN}: interrupted (exit 130)" in recap


def test_json_lines_status_and_stats() -> None:
    stream = io.StringIO()
    feed(JsonLinesReporter(stream), _events())
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    [result] = [r for r in records if r["event"] == "task_result" and r["target"] == "box"]
    assert result["status"] == "interrupted" and result["msg"] == MSG
    assert records[-1]["stats"]["box"]["interrupted"] == 1 and records[-1]["stats"]["other"]["interrupted"] == 0


def test_junit_reports_an_error_of_type_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    feed(JUnitReporter(path), _events())
    xmlschema.XMLSchema(str(Path(__file__).parent / "data" / "junit.xsd")).validate(str(path))
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None and (suite.get("errors"), suite.get("failures")) == ("1", "0")
    error = suite.find("testcase[@classname='play.box']/error")
    assert error is not None and error.get("type") == "interrupted" and error.get("message") == MSG


def test_journal_keeps_the_status(tmp_path: Path) -> None:
    from ajudaplay.journal import Journal

    journal = Journal.open(tmp_path / "j.sqlite")
    listener = journal.listener()
    for event in _events():
        listener.handle(event)
    listener.close()
    rows = sqlite3.connect(tmp_path / "j.sqlite").execute(
        "SELECT target, status, msg FROM results WHERE run_id = ? ORDER BY target", (RUN,)).fetchall()
    assert rows == [("box", "interrupted", MSG), ("other", "ok", "")]
    [run] = journal.runs(10)
    assert run.outcome == "interrupted" and run.counts.get("interrupted") == 1
    journal.close()
