"""Runs whose process died are `abandoned` (with their last step), not `running` forever; old journals still open."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

from ajudaplay.engine.events import RunStarted, TaskStarted
from ajudaplay.journal import Journal
from ajudaplay.journal.schema import MIGRATIONS


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _start(path: Path, run_id: str, ttl: float = 900) -> None:
    """A run journaled up to its first step by this (live) process; the listener is left open."""
    journal = Journal.open(path)
    listener = journal.listener()
    listener.handle(RunStarted(run_id, "pb.yml", "prod", "alice", time.time(), False, {"lock_ttl": ttl}))
    listener.handle(TaskStarted(run_id, "play", "deploy api", "pb.yml:3:7", ["web1", "web2"]))
    journal.close()


def _set(path: Path, run_id: str, **columns: object) -> None:
    conn = sqlite3.connect(path)
    for name, value in columns.items():
        conn.execute(f"UPDATE runs SET {name} = ? WHERE id = ?", (value, run_id))
    conn.commit()
    conn.close()


def test_a_run_of_a_live_process_stays_running(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    _start(path, "live0001")
    with Journal.open(path) as journal:
        [row] = journal.runs()
    assert row.outcome == "running" and row.last_step == "deploy api on web1, web2"


def test_a_run_whose_process_on_this_machine_is_gone_is_abandoned_at_once(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    from ajudaplay.owner import ProcessOwner

    _start(path, "dead0001")
    here = ProcessOwner.current()
    _set(path, "dead0001", owner=json.dumps({**here.to_json(), "pid": _dead_pid(), "started": ""}))
    with Journal.open(path) as journal:
        detail = journal.run("dead0001")
    assert detail is not None and detail.run.outcome == "abandoned"
    assert f"its process (pid " in detail.message and f"on {socket.gethostname()}) is gone" in detail.message
    assert "last known step: deploy api on web1, web2" in detail.message
    assert detail.run.last_step == "deploy api on web1, web2"


def test_a_run_of_another_machine_is_abandoned_once_its_lock_ttl_passed_without_a_sign(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    _start(path, "far00001", ttl=60)
    elsewhere = json.dumps({"hostname": "other-laptop", "pid": 1, "machine": "", "started": ""})
    _set(path, "far00001", owner=elsewhere, heartbeat_at=time.time() - 30)
    with Journal.open(path) as journal:
        assert journal.runs()[0].outcome == "running"  # 30 s of silence: its lock may still hold
    _set(path, "far00001", heartbeat_at=time.time() - 90)
    with Journal.open(path) as journal:
        detail = journal.run("far00001")
    assert detail is not None and detail.run.outcome == "abandoned"
    assert "no sign of life from" in detail.message and "60s lock ttl" in detail.message


def test_the_listener_beats_while_the_run_lasts(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal.open(path)
    listener = journal.listener()
    listener.handle(RunStarted("beat0001", "pb.yml", "prod", "alice", time.time(), False, {"lock_ttl": 0.3}))
    conn = sqlite3.connect(path)
    first = conn.execute("SELECT heartbeat_at FROM runs").fetchone()[0]
    time.sleep(0.6)
    second = conn.execute("SELECT heartbeat_at FROM runs").fetchone()[0]
    assert second > first
    listener.close()
    journal.close()
    time.sleep(0.3)
    assert conn.execute("SELECT heartbeat_at FROM runs").fetchone()[0] < time.time() - 0.2  # stopped
    conn.close()


def test_a_journal_written_before_the_owner_column_opens_and_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE _migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)")
    for statement in MIGRATIONS[0][1]:  # exactly what version 1 created
        conn.execute(statement)
    conn.execute("INSERT INTO _migrations VALUES (1, 'initial', 0)")
    conn.execute("INSERT INTO runs (id, playbook, inventory, user, host, started_at, outcome, check_mode) "
                 "VALUES ('old00001', 'pb.yml', 'prod', 'bob', 'box', 1700000000, 'running', 0)")
    conn.execute("INSERT INTO runs (id, playbook, inventory, user, host, started_at, finished_at, outcome, "
                 "exit_code, check_mode) VALUES ('old00002', 'pb.yml', 'prod', 'bob', 'box', 1700000100, "
                 "1700000110, 'success', 0, 0)")
    conn.commit()
    conn.close()
    with Journal.open(path) as journal:
        rows = {row.id: row for row in journal.runs()}
        assert rows["old00001"].outcome == "running"  # nothing says whether it still runs: left alone
        assert rows["old00002"].outcome == "success" and rows["old00002"].last_step == ""
        detail = journal.run("old00002")
        assert detail is not None and detail.run.exit_code == 0
