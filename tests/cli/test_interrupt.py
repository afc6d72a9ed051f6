"""Ctrl-C on a real subprocess: exit 130, locks released, RunFinished(interrupted) emitted."""

from __future__ import annotations

import signal
import time

import pytest

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


# Real commands on a real `@local` host target: the signal must stop the work itself.

LEFTOVER_WAIT = 3.0  # a stray may take a moment to be reaped by init after ajudaplay has exited


def _pattern() -> str:
    """A `sleep` argument no other process on the machine uses, so pgrep finds only ours."""
    import random

    return f"sleep {random.randint(3_000_000, 3_999_999)}"


def _leftovers(pattern: str) -> list[str]:
    import subprocess

    deadline = time.monotonic() + LEFTOVER_WAIT
    while True:
        found = subprocess.run(["pgrep", "-af", pattern], capture_output=True, text=True).stdout.splitlines()
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def _host_project(project: Project, tasks: str) -> None:
    project.write(
        "inventory/test.yml",
        f"targets:\n  box:\n    host: '@local'\n    lock_path: {project.root / 'box.lock'}\n",
    )
    project.write("p.yml", "- hosts: all\n  tasks:\n" + tasks)


def _journal_results(project: Project, run_id: str) -> list[dict[str, object]]:
    import json

    shown = project.run("show", run_id, "--output", "json")
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    assert record["outcome"] == "interrupted" and record["exit_code"] == 130
    return list(record["results"])


COMMANDS = {
    "plain": "{s}",
    "ignores SIGINT and SIGTERM": "trap '' INT TERM; {s}",
    "child in a session of its own": "setsid {s} & {s} & wait",
    "background child holding no output": "({s} >/dev/null 2>&1 &); {s}",
}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("shape", list(COMMANDS))
def test_a_signal_stops_the_running_command_and_everything_it_started(project: Project, sig: int, shape: str) -> None:
    pattern = _pattern()
    command = COMMANDS[shape].format(s=pattern)
    _host_project(project, f"    - name: long\n      shell: \"{command}\"\n    - {{name: never, shell: 'true'}}\n")
    proc = project.popen("run", "p.yml", "-i", "test", "--output", "json")
    try:
        _wait_for(lambda: len(_leftovers_now(pattern)) >= 1)
        time.sleep(0.3)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == ExitCode.INTERRUPTED, stderr
    assert _leftovers(pattern) == []
    evs = events(stdout)
    results = [e for e in evs if e["event"] == "task_result" and e["task"] != "acquire lock"]
    assert [(e["task"], e["status"]) for e in results] == [("long", "interrupted")]
    assert evs[-1]["outcome"] == "interrupted" and evs[-1]["stats"]["box"]["interrupted"] == 1
    assert not (project.root / "box.lock").exists()
    journal = _journal_results(project, str(evs[-1]["run_id"]))
    assert [(r["task"], r["status"]) for r in journal if r["task"] != "acquire lock"] == [("long", "interrupted")]


def _leftovers_now(pattern: str) -> list[str]:
    import subprocess

    return subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()


def test_a_signal_during_the_last_step_is_an_interrupted_run_even_if_the_step_then_succeeds(project: Project) -> None:
    # The child ignores SIGINT and SIGTERM and ends by itself soon after: the run still says interrupted.
    _host_project(project, "    - {name: last, shell: \"trap '' INT TERM; sleep 1.5\"}\n")
    proc = project.popen("run", "p.yml", "-i", "test", "--output", "json")
    try:
        _wait_for(lambda: (project.root / "box.lock").exists())
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == ExitCode.INTERRUPTED, stderr
    assert events(stdout)[-1]["outcome"] == "interrupted"


def test_console_recap_names_the_interrupted_step(project: Project) -> None:
    pattern = _pattern()
    _host_project(project, f"    - {{name: long, shell: '{pattern}'}}\n")
    proc = project.popen("run", "p.yml", "-i", "test")
    try:
        _wait_for(lambda: len(_leftovers_now(pattern)) >= 1)
        proc.send_signal(signal.SIGINT)
        stdout, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == ExitCode.INTERRUPTED
    assert "interrupted: [box] box: the running command was stopped" in stdout
    assert "interrupted=1" in stdout.split("PLAY RECAP")[1]
    assert "interrupted: [box] long: box: the running command was stopped" in stdout


def test_a_timed_out_step_is_stopped_before_the_next_task_starts(project: Project) -> None:
    pattern = _pattern()
    _host_project(
        project,
        f"    - {{name: slow, shell: \"trap '' TERM; {pattern}\", timeout: 2, ignore_errors: true}}\n"
        f"    - {{name: next, shell: \"pgrep -f 'slee[p] {pattern.split()[1]}' || echo none\"}}\n",
    )
    started = time.monotonic()
    done = project.run("run", "p.yml", "-i", "test", "--output", "json", timeout=60)
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    results = {e["task"]: e for e in events(done.stdout) if e["event"] == "task_result"}
    assert results["slow"]["status"] == "ignored" and "timed out after 2s" in str(results["slow"]["msg"])
    assert results["next"]["data"]["stdout"] == "none"  # nothing of the slow step ran beside it
    assert elapsed < 20
    assert _leftovers(pattern) == []


def test_pgrep_sees_a_running_pattern(project: Project) -> None:
    """The leftover check can fail: it finds a process that does run."""
    import subprocess

    pattern = _pattern()
    proc = subprocess.Popen(pattern.split())
    try:
        _wait_for(lambda: bool(_leftovers_now(pattern)))
    finally:
        proc.kill()
        proc.wait()
    assert _leftovers(pattern) == []
