"""The SQLite journal: round trip, partial runs, prefixes, migrations, bad paths, two writers."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ajudaplay.engine.events import RunStarted
from ajudaplay.errors import JournalError
from ajudaplay.journal import Journal, default_path
from ajudaplay.journal.schema import MIGRATIONS
from tests.report import scripted
from tests.report.conftest import feed

ROOT = Path(__file__).parents[2]
NOBODY = pwd.getpwnam("nobody").pw_uid  # the unprivileged user for what root cannot be refused
NOBODY_GROUP = pwd.getpwnam("nobody").pw_gid
BAD_PATHS = json.loads((Path(__file__).parent / "data" / "bad_paths.json").read_text())


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    opened = Journal.open(tmp_path / "state" / "journal.sqlite")
    yield opened
    opened.close()


def test_round_trip(journal: Journal) -> None:
    feed(journal.listener(), scripted.events())
    [row] = journal.runs()
    assert (row.id, row.playbook, row.inventory, row.user) == (scripted.RUN_ID, "playbooks/deploy.yml", "prod", "alice")
    assert (row.outcome, row.exit_code, row.duration) == ("failed", 2, 12.5)
    assert row.counts == {"ok": 1, "changed": 3, "failed": 1, "skipped": 1, "unreachable": 1,
                          "ignored": 1, "rescued": 1, "rolled_back": 1}
    detail = journal.run(scripted.RUN_ID[:6])
    assert detail is not None and detail.run.id == scripted.RUN_ID
    assert detail.options == {"limit": "api"} and detail.message == "1 target failed"
    assert len(detail.results) == 9
    first = detail.results[0]
    assert (first.task, first.target, first.status, first.diff) == ("deploy image", "cluster", "changed", "api image: v1 -> v2")
    failed = detail.results[1]
    assert failed.rolled_back and failed.msg == "health check failed: GET /health returned 503"
    assert [r.item for r in detail.results if r.item] == ['"api"']
    assert [(r.target, r.service, r.before, r.after) for r in detail.revisions] == [
        ("cluster", "api", "3", "4"), ("small", "api", "7", "7")]
    assert [r.image for r in journal.revisions("cluster", "api")] == ["registry.local/api:v2"]
    assert len(journal.revisions(None, "api")) == 2 and journal.revisions("nowhere", None) == []


def test_an_interrupted_run_keeps_what_happened(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    writer = Journal.open(path)
    listener = writer.listener()
    for event in scripted.events(finished=False)[:5]:
        listener.handle(event)
    reader = Journal.open(path)  # another process would see the same: every event is committed
    detail = reader.run(scripted.RUN_ID)
    assert detail is not None and detail.run.outcome == "running" and len(detail.results) == 2
    listener.close()
    detail = reader.run(scripted.RUN_ID)
    assert detail is not None and detail.run.outcome == "interrupted" and detail.run.finished_at
    reader.close()
    writer.close()


def test_prefixes(journal: Journal) -> None:
    listener = journal.listener()
    for run_id in ("abc123", "abc456", "a_c789"):
        listener.handle(RunStarted(run_id, "pb.yml", "prod", "bob", time.time(), False))
    listener.close()
    assert journal.run("abc1") is not None
    assert journal.run("zzz") is None
    assert journal.run("a_") is not None  # '_' is literal, not a LIKE wildcard
    with pytest.raises(JournalError) as excinfo:
        journal.run("abc")
    assert "abc123" in str(excinfo.value) and "abc456" in str(excinfo.value)
    assert [r.id for r in journal.runs(limit=2)] == ["a_c789", "abc456"]


def test_migrations_are_recorded_and_reopen_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    Journal.open(path).close()
    Journal.open(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT version, name FROM _migrations").fetchall() == [(1, "initial"), (2, "run owner"), (3, "result action")]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.execute("INSERT INTO _migrations VALUES (?, 'future', 0)", (len(MIGRATIONS) + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(JournalError, match="newer ajudaplay"):
        Journal.open(path)


def _open_bad_path(base: Path, case: dict[str, object]) -> tuple[Path, str]:
    """Make the case's bad path under `base`, open a journal there; return the path and the JournalError text."""
    make = case["make"]
    if make == "dir":
        (base / "j").mkdir()
    elif make == "garbage":
        (base / "j.sqlite").write_bytes(b"this is not a database, it is a grocery list\n" * 100)
    elif make == "file-parent":
        (base / "f").write_text("")
    elif make == "readonly-dir":
        (base / "ro").mkdir(mode=0o500)
    path = base / str(case["path"])
    with pytest.raises(JournalError) as excinfo:
        Journal.open(path)
    return path, str(excinfo.value)


def _open_bad_path_as_nobody(case: dict[str, object]) -> tuple[Path, str]:
    """Root can write anywhere: run the same open as the unprivileged user `nobody`, in a child process."""
    base = Path(tempfile.mkdtemp(prefix="ajudaplay-journal-nobody-"))
    try:
        os.chown(base, NOBODY, NOBODY_GROUP)
        child = (
            "import json, sys\nfrom pathlib import Path\nfrom tests.journal.test_journal import _open_bad_path\n"
            "path, text = _open_bad_path(Path(sys.argv[1]), json.loads(sys.argv[2]))\n"
            "print(json.dumps([str(path), text]))\n"
        )
        done = subprocess.run(
            ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY_GROUP}", "--clear-groups",
             sys.executable, "-c", child, str(base), json.dumps(case)],
            cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        path, text = json.loads(done.stdout.strip().splitlines()[-1])
        return Path(path), text
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("case", BAD_PATHS, ids=[c["id"] for c in BAD_PATHS])
def test_bad_paths_are_journal_errors(tmp_path: Path, case: dict[str, object]) -> None:
    if case.get("needs_non_root") and os.geteuid() == 0:
        path, text = _open_bad_path_as_nobody(case)
    else:
        path, text = _open_bad_path(tmp_path, case)
    assert str(path) in text and str(case["reason"]) in text, text
    assert "hint:" in text


def test_locked_beyond_timeout(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE x (a)")
    holder.execute("BEGIN EXCLUSIVE")  # a rollback-journal database held by someone else
    holder.execute("INSERT INTO x VALUES (1)")
    started = time.monotonic()
    with pytest.raises(JournalError, match="locked by another process"):
        Journal.open(path, timeout=0.3)
    assert 0.25 < time.monotonic() - started < 5
    holder.execute("ROLLBACK")
    holder.close()


def test_a_write_failure_is_raised_once_then_kept(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal.open(path, timeout=0.2)
    listener = journal.listener()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    first, *rest = scripted.events()[:4]
    with pytest.raises(JournalError, match="locked"):
        listener.handle(first)  # the EventBus collects it: exit code 5
    for event in rest:
        listener.handle(event)  # later events are dropped, not raised again
    holder.execute("ROLLBACK")
    holder.close()
    listener.close()
    assert listener.error is not None and "locked" in str(listener.error)
    journal.close()


def test_listener_is_safe_across_threads(journal: Journal) -> None:
    listener = journal.listener()
    listener.handle(scripted.events()[0])
    results = [e for e in scripted.events() if type(e).__name__ == "TaskResult"]
    def work() -> None:
        for result in results * 20:
            listener.handle(result)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    listener.close()
    detail = journal.run(scripted.RUN_ID)
    assert detail is not None and len(detail.results) == 4 * 20 * len(results)


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"  # not created yet: both processes race to migrate too
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([sys.executable, str(Path(__file__).parent / "writer.py"), str(path), run_id, "1000"],
                         env=env, stderr=subprocess.PIPE, text=True)
        for run_id in ("run-a", "run-b")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    journal = Journal.open(path)
    rows = {row.id: row for row in journal.runs()}
    assert set(rows) == {"run-a", "run-b"}
    for row in rows.values():
        assert row.outcome == "success" and row.counts == {"changed": 1000}
    assert len(journal.revisions(None, "api", limit=10_000)) == 2000
    journal.close()
    order = [r for (r,) in sqlite3.connect(path).execute("SELECT run_id FROM results ORDER BY id")]
    switches = sum(1 for a, b in zip(order, order[1:]) if a != b)
    assert switches > 1, "the two writers did not overlap; the test proved nothing"


def test_default_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AJUDAPLAY_JOURNAL", str(tmp_path / "x.sqlite"))
    assert default_path() == tmp_path / "x.sqlite"
    monkeypatch.delenv("AJUDAPLAY_JOURNAL")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_path() == tmp_path / "ajudaplay" / "journal.sqlite"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_path() == tmp_path / "home" / ".local" / "state" / "ajudaplay" / "journal.sqlite"
