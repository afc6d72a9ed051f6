"""`run --step` asks before each task on the terminal, as `ansible-playbook --step` does:
y runs it, n (or Enter) skips it, c runs it and every later task without asking again.
Without a terminal the run is refused before it starts (exit 3), never hung.

The real CLI runs on a pseudo-terminal (stdin, stdout and stderr), on fake targets.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli.conftest import Project, events

PLAYBOOK = """\
- name: steps
  hosts: all
  tasks:
    - {name: one, debug: {msg: ran one}}
    - {name: two, debug: {msg: ran two}}
    - {name: three, debug: {msg: ran three}}
    - {name: four, debug: {msg: ran four}}
"""
PROMPT = re.compile(r"Perform task: TASK \[(\w+)\] on a\? \(y\)es/\(n\)o/\(c\)ontinue:")


class Terminal:
    """The CLI on a pseudo-terminal: read until a prompt, answer it."""

    def __init__(self, project: Project, *args: str) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(project.cmd(*args), cwd=project.root, env=project.env(),
                                     stdin=slave, stdout=slave, stderr=slave, close_fds=True)
        os.close(slave)
        self.seen = ""

    def read_until(self, pattern: re.Pattern[str], timeout: float = 30) -> re.Match[str] | None:
        deadline = time.monotonic() + timeout
        start = len(self.seen)
        while time.monotonic() < deadline:
            found = pattern.search(self.seen, start)
            if found:
                self.seen = self.seen[:found.end()] + "\x00" + self.seen[found.end():]  # consumed
                return found
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # the child closed the terminal
                    chunk = b""
                if not chunk:
                    return None
                self.seen += chunk.decode(errors="replace")
        return None

    def answer(self, text: str) -> None:
        os.write(self.master, (text + "\n").encode())

    def finish(self, timeout: float = 30) -> int:
        while self.read_until(re.compile(r"\Z\x01"), timeout=0.5) is None and self.proc.poll() is None:
            pass
        code = self.proc.wait(timeout)
        os.close(self.master)
        return code


@pytest.fixture
def project(tmp_path: Path) -> Project:
    p = Project(tmp_path)
    p.state.mkdir()
    p.inventory({"a": {}})
    p.write("steps.yml", PLAYBOOK)
    return p


def test_step_asks_before_each_task_and_obeys_yes_no_continue(project: Project) -> None:
    term = Terminal(project, "run", "steps.yml", "-i", "test", "--step")
    asked = []
    for reply in ("y", "n", "what?", "c"):
        found = term.read_until(PROMPT)
        assert found is not None, term.seen
        asked.append(found.group(1))
        term.answer(reply)
    code = term.finish()
    out = term.seen
    assert code == 0, out
    assert asked == ["one", "two", "three", "three"]  # a garbage answer is asked again
    assert "please answer y, n or c" in out
    assert "ran one" in out and "ran two" not in out
    assert "ran three" in out and "ran four" in out  # c: four ran without a question
    assert "TASK [four]" not in "".join(PROMPT.findall(out))
    assert "ok=3" in out  # the skipped task is neither run nor counted


def test_step_enter_alone_does_not_run_the_task(project: Project) -> None:
    term = Terminal(project, "run", "steps.yml", "-i", "test", "--step")
    for _ in range(4):
        assert term.read_until(PROMPT) is not None, term.seen
        term.answer("")
    assert term.finish() == 0
    assert "ran " not in term.seen


def test_step_without_a_terminal_is_refused_before_anything_runs(project: Project) -> None:
    done = project.run("run", "steps.yml", "-i", "test", "--step", "--output", "json")
    assert done.returncode == 3, done.stdout + done.stderr
    found = events(done.stdout)
    problems = [e for e in found if e["event"] == "diagnostic"]
    assert problems and "--step asks before each task on the terminal" in problems[0]["message"]
    assert not [e for e in found if e["event"] == "task_result"]
    plain = project.run("run", "steps.yml", "-i", "test", "--step")
    assert plain.returncode == 3
    assert "--step asks before each task on the terminal" in plain.stdout + plain.stderr
    assert "ran one" not in plain.stdout
