"""`changes` through the real CLI with fake targets (no target history to speak of: the journal side is the
point here; the targets' own history times are checked by the e2e tests on both modes): the journal's runs
that changed this target inside the window, without read-only, check-mode, other targets' and the current
run; a --no-journal run reads the default journal read-only, and a missing journal answers nothing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

INVENTORY = """
targets:
  t1: {fake: {}, services: {api: {}}}
  t2: {fake: {}, services: {api: {}}}
"""
DEPLOY = """
- hosts: all
  tasks:
    - deploy: {service: api, image: "api:2"}
"""
READ_ONLY = """
- hosts: all
  tasks:
    - status: {service: api}
"""
LOOK = """
- hosts: all
  tasks:
    - name: changes
      changes: {service: api, since: "{{ window | default('1h') }}"}
"""


class Cli:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.journal = root / "journal.sqlite"
        for name, text in (("inv.yml", INVENTORY), ("other.yml", INVENTORY), ("deploy.yml", DEPLOY), ("read.yml", READ_ONLY), ("look.yml", LOOK)):
            (root / name).write_text(text)

    def run(self, playbook: str, *args: str, journal: Path | None = None, rc: int = 0,
            inventory: str = "inv.yml") -> list[dict[str, Any]]:
        env = dict(os.environ, PYTHONPATH=str(ROOT), AJUDAPLAY_JOURNAL=str(journal or self.journal), NO_COLOR="1")
        done = subprocess.run([sys.executable, "-m", "ajudaplay", "run", playbook, "-i", inventory, "--output", "json",
                               *args], cwd=self.root, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == rc, done.stdout + done.stderr
        return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]

    def changes(self, *args: str, journal: Path | None = None) -> dict[str, dict[str, Any]]:
        events = self.run("look.yml", *args, journal=journal)
        return {e["target"]: e["data"] for e in events if e.get("event") == "task_result" and e["task"] == "changes"}


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def run_id(events: list[dict[str, Any]]) -> str:
    return str(events[0]["run_id"])


def test_journal_runs_that_changed_the_target(cli: Cli) -> None:
    deployed = run_id(cli.run("deploy.yml", "-l", "t1"))
    cli.run("read.yml")  # read-only: touched both, changed nothing
    cli.run("deploy.yml", "--check")  # check mode: changed nothing
    cli.run("deploy.yml", inventory="other.yml")  # another environment whose targets have the same names
    seen = cli.changes()  # this run is journaled too, and left out
    [run] = seen["t1"]["runs"]
    assert (run["run_id"], run["playbook"], run["status"], run["changed"]) == (deployed, "deploy.yml", "success", 1)
    assert run["inventory"] == "inv" and run["check"] is False
    assert run["user"] and run["host"] and run["ended"] >= run["started"]
    assert [(m["service"], m["before"], m["after"], m["image"]) for m in run["revisions"]] == [("api", "0", "1", "api:2")]
    assert seen["t1"]["recent"] is True and seen["t1"]["since"] == "1h" and seen["t1"]["window"] == 3600
    assert seen["t2"]["runs"] == [] and seen["t2"]["recent"] is False  # the deploy never ran on t2

    # --no-journal: the default journal is read (and not written)
    rows = sqlite3.connect(cli.journal).execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    assert [r["run_id"] for r in cli.changes("--no-journal")["t1"]["runs"]] == [deployed]
    assert sqlite3.connect(cli.journal).execute("SELECT COUNT(*) FROM runs").fetchone()[0] == rows

    # outside the window: two hours ago is not "the last hour", but is "the last 3h"
    with sqlite3.connect(cli.journal) as conn:
        conn.execute("UPDATE runs SET started_at = started_at - 7200 WHERE id = ?", (deployed,))
    assert cli.changes("--no-journal")["t1"]["runs"] == []
    assert [r["run_id"] for r in cli.changes("--no-journal", "-e", "window=3h")["t1"]["runs"]] == [deployed]


def test_no_journal_file_answers_nothing_and_creates_none(cli: Cli, tmp_path: Path) -> None:
    absent = tmp_path / "nowhere" / "journal.sqlite"
    seen = cli.changes("--no-journal", journal=absent)
    assert seen["t1"]["runs"] == [] and seen["t1"]["recent"] is False
    assert not absent.exists() and not absent.parent.exists()


def test_bad_window_is_a_clear_failure(cli: Cli) -> None:
    events = cli.run("look.yml", "--no-journal", "-e", "window=soon", rc=2)
    failed = [e for e in events if e.get("event") == "task_result" and e["task"] == "changes"]
    assert {e["status"] for e in failed} == {"failed"}
    assert all("changes.since: 'soon' is not a duration like 10m, 1h" in e["msg"] for e in failed), failed
