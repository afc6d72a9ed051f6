"""Losing the lock mid-run stops that target: the running step is cancelled, later steps never start,
the recap, the journal and the exit code (2) say "lock lost". Real host lock on @local, real CLI unlock."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import yaml

from ajudaplay.actions.base import default_registry
from ajudaplay.engine.events import TaskStarted
from ajudaplay.engine.options import RunOptions
from ajudaplay.engine.run import Runner
from ajudaplay.exitcodes import ExitCode
from ajudaplay.hosts.lock import HostLock
from ajudaplay.hosts.pyinfra_host import LocalHost
from ajudaplay.inventory.loader import load_inventory
from ajudaplay.journal import Journal
from ajudaplay.playbook.loader import load_playbook
from ajudaplay.report.console import ConsoleReporter
from ajudaplay.targets.base import LockHolder
from tests.engine.conftest import Collector

ROOT = Path(__file__).resolve().parents[2]
BOB = LockHolder("bob", "ci", "run-bob")
LOCK_LOST_TASK = "lock lost"  # the pseudo-task name (ajudaplay/engine/prepare.py), as operators see it


@pytest.fixture
def lock_path() -> Iterator[str]:
    path = f"/tmp/ajudaplay-lost-{uuid.uuid4().hex[:10]}.lock"
    yield path
    subprocess.run(["rm", "-rf", path], check=False)


def _write(tmp: Path, lock_path: str, tasks: list[dict[str, Any]]) -> tuple[Path, Path]:
    playbook = tmp / "play.yml"
    playbook.write_text(yaml.safe_dump([{"name": "work", "hosts": "all", "tasks": tasks}]))
    inventory = tmp / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"targets": {"web": {"host": "@local", "lock_path": lock_path}}}))
    return playbook, inventory


def _run(tmp: Path, playbook: Path, inventory: Path, when_started: str, meddle: Callable[[], None],
         ttl: float = 3) -> tuple[int, Collector, str, float]:
    """Run in-process (journal, console, collector); call `meddle` once step `when_started` is running."""
    registry = default_registry()
    journal = Journal.open(tmp / "journal.sqlite")
    collector = Collector()
    console_out = io.StringIO()
    runner = Runner(load_playbook(playbook, registry), load_inventory(inventory), registry,
                    RunOptions(lock_ttl=ttl), [collector, journal.listener(), ConsoleReporter(console_out, color=False)])

    def watch() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if any(isinstance(e, TaskStarted) and e.task == when_started for e in list(collector.events)):
                time.sleep(0.3)
                meddle()
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.monotonic()
    summary = runner.run()
    elapsed = time.monotonic() - started
    watcher.join(60)  # the meddling may end after the run noticed it: assert on its full effect
    journal.close()
    return summary.exit_code, collector, console_out.getvalue(), elapsed


def test_unlock_and_another_run_taking_the_lock_stops_the_target(tmp_path: Path, lock_path: str) -> None:
    marker = tmp_path / "after-ran"
    playbook, inventory = _write(tmp_path, lock_path, [
        {"name": "long", "wait_for": {"path": str(tmp_path / "never"), "timeout": 60, "sleep": 0.2}},
        {"name": "after", "shell": f"touch {marker}"},
    ])

    def unlock_then_take() -> None:  # what an operator does: `ajudaplay unlock`, then another run
        subprocess.run([sys.executable, "-m", "ajudaplay", "unlock", "-i", str(inventory), "web", "--yes"],
                       cwd=ROOT, check=True, capture_output=True, timeout=60)
        HostLock(LocalHost("bob"), lock_path, "web").acquire(BOB, ttl=60, wait=0)

    code, collector, console, elapsed = _run(tmp_path, playbook, inventory, "long", unlock_then_take)

    assert code == ExitCode.FAILED
    assert elapsed < 20, "the running step was not told to stop"  # wait_for alone would take 60 s
    assert not marker.exists(), "a step started after the lock was lost"
    assert [e.task for e in collector.events if isinstance(e, TaskStarted)] == ["acquire lock", "long"]
    [lost] = collector.results(LOCK_LOST_TASK, "web")
    assert lost.status == "failed"
    assert "taken over by bob@ci (run run-bob)" in lost.error or "was removed" in lost.error, lost.error
    assert collector.status("long", "web") in ("failed", "interrupted")
    finished = collector.finished
    assert finished.outcome == "failed" and "lock lost on web" in finished.message
    # the other run's lock is intact: releasing ours did not delete it
    info = HostLock(LocalHost("check"), lock_path, "web").read()
    assert info is not None and info.run_id == "run-bob"
    # the recap says it where an operator looks
    recap = console[console.index("PLAY RECAP"):]
    assert "LOCK LOST" in next(line for line in recap.splitlines() if line.startswith("web"))
    assert "failed: [web] lock lost:" in recap
    # and so does the journal
    with Journal.open(tmp_path / "journal.sqlite") as journal:
        detail = journal.run(finished.run_id)
    assert detail is not None and detail.run.outcome == "failed" and detail.run.exit_code == 2
    assert "lock lost on web" in detail.message
    assert any(r.task == LOCK_LOST_TASK and r.status == "failed" and r.target == "web" for r in detail.results)


def test_an_edited_owner_file_is_a_lost_lock_and_not_rescued(tmp_path: Path, lock_path: str) -> None:
    """Someone rewrote the lock by hand: renewing finds it is not ours; a rescue must not count it as rescued."""
    marker = tmp_path / "rescue-ran"
    playbook, inventory = _write(tmp_path, lock_path, [
        {"name": "guarded", "block": [
            {"name": "long", "wait_for": {"path": str(tmp_path / "never"), "timeout": 60, "sleep": 0.2}},
        ], "rescue": [{"name": "rescue", "shell": f"touch {marker}"}]},
    ])

    def edit() -> None:
        owner = Path(lock_path) / "owner.json"
        owner.write_text(owner.read_text().replace('"holder": "', '"holder": "mallory-'))

    code, collector, _, elapsed = _run(tmp_path, playbook, inventory, "long", edit)

    assert code == ExitCode.FAILED and elapsed < 20
    assert not marker.exists()
    [lost] = collector.results(LOCK_LOST_TASK, "web")
    assert "taken over by mallory-" in lost.error, lost.error
    assert collector.finished.stats["web"].rescued == 0
    assert collector.finished.stats["web"].failed >= 1
