"""Ctrl-C on a real subprocess: exit 130, locks released, RunFinished(interrupted) emitted."""

from __future__ import annotations

import signal
import time

from ajudaplay.exitcodes import ExitCode
from tests.cli.conftest import Project, events


def _wait_for(predicate: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def _start(project: Project, sig: int) -> tuple[int, list[dict[str, object]], float]:
    project.inventory({"t1": {"delay": 60}, "t2": {"delay": 60}})
    project.write("p.yml", "- hosts: all\n  tasks:\n    - {name: slow, status: {service: api}}\n    - {name: never, status: {service: api}}\n")
    proc = project.popen("run", "p.yml", "-i", "test", "--output", "json")
    try:
        _wait_for(lambda: len(project.locks()) == 2)
        time.sleep(0.3)  # the slow step is running
        sent = time.monotonic()
        proc.send_signal(sig)
        stdout, _ = proc.communicate(timeout=30)
        elapsed = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, events(stdout), elapsed


def test_sigint_exits_130_and_releases_locks(project: Project) -> None:
    code, evs, elapsed = _start(project, signal.SIGINT)
    assert code == ExitCode.INTERRUPTED
    assert project.locks() == []
    assert evs[-1]["event"] == "run_end" and evs[-1]["outcome"] == "interrupted" and evs[-1]["exit_code"] == 130
    methods = [c["method"] for c in project.calls()]
    assert methods.count("release_lock") == 2 and methods.count("close") == 2
    assert methods.count("status") == 2  # the second task never started
    assert elapsed < 5  # the running steps saw their cancel flag


def test_sigterm_behaves_like_ctrl_c(project: Project) -> None:
    code, evs, _ = _start(project, signal.SIGTERM)
    assert code == ExitCode.INTERRUPTED
    assert project.locks() == []
    assert evs[-1]["outcome"] == "interrupted"
