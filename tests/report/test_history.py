"""`history` and `show` rendering from a real journal: tables an operator can grep, and JSON."""

from __future__ import annotations

import io
import json
from pathlib import Path

from ajudaplay.engine.events import RunStarted
from ajudaplay.journal import Journal
from ajudaplay.report.history import print_run, print_runs
from tests.report import scripted
from tests.report.conftest import feed


def journaled(tmp_path: Path) -> Journal:
    journal = Journal.open(tmp_path / "journal.sqlite")
    feed(journal.listener(), scripted.events())
    listener = journal.listener()
    listener.handle(RunStarted("ffff0000eeee1111", "playbooks/restart.yml", "staging", "bob",
                               scripted.T0 + 3600, True))
    listener.close()  # never finished: shows as interrupted
    return journal


def test_history_table(tmp_path: Path) -> None:
    journal = journaled(tmp_path)
    out = io.StringIO()
    print_runs(journal.runs(), out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["RUN", "STARTED", "(UTC)", "DURATION", "OUTCOME", "PLAYBOOK", "INVENTORY", "USER", "RESULTS"]
    assert lines[1].startswith("ffff0000eeee  2024-05-01 13:00:00")
    assert "interrupted (check)" in lines[1]
    assert lines[2].split()[:8] == ["3f9a1b2c4d5e", "2024-05-01", "12:00:00", "12.5s", "failed",
                                    "playbooks/deploy.yml", "prod", "alice"]
    assert lines[2].endswith("ok=1 changed=3 failed=1 skipped=1 unreachable=1 ignored=1 rescued=1 rolled_back=1")
    journal.close()


def test_history_json_and_empty(tmp_path: Path) -> None:
    journal = journaled(tmp_path)
    out = io.StringIO()
    print_runs(journal.runs(), out, as_json=True)
    runs = json.loads(out.getvalue())
    assert [r["run_id"] for r in runs] == ["ffff0000eeee1111", scripted.RUN_ID]
    assert runs[1]["counts"]["changed"] == 3 and runs[1]["started_at"] == "2024-05-01T12:00:00.000Z"
    empty = io.StringIO()
    print_runs([], empty)
    assert empty.getvalue() == "no runs journaled yet\n"
    journal.close()


def test_show_lists_tasks_targets_and_revisions(tmp_path: Path) -> None:
    journal = journaled(tmp_path)
    detail = journal.run("3f9a")
    assert detail is not None
    out = io.StringIO()
    print_run(detail, out)
    text = out.getvalue()
    lines = text.splitlines()
    assert "outcome:   failed (exit 2)" in lines
    assert "  TASK [deploy image]" in lines
    assert "  HANDLER [restart nginx]" in lines
    failed = next(line for line in lines if "small" in line and "rolled back" in line)
    assert "health check failed: GET /health returned 503" in failed
    changed = next(line for line in lines if line.strip().startswith("changed") and "cluster" in line)
    assert changed.endswith("api image: v1 -> v2")
    assert "REVISIONS" in lines
    assert any(line.split()[:5] == ["cluster", "api", "3", "->", "4"] for line in lines)
    as_json = io.StringIO()
    print_run(detail, as_json, as_json=True)
    record = json.loads(as_json.getvalue())
    assert len(record["results"]) == 9 and record["results"][2]["item"] == "api"
    assert record["revisions"][0]["image"] == "registry.local/api:v2"
    journal.close()
