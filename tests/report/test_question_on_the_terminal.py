"""A question on the terminal (confirm, restore) is the only thing drawn there while it waits, and Ctrl-C
ends it: no live status line redraws over the prompt, and an interrupted run does not wait for a line."""

from __future__ import annotations

import os
import pty
import threading
import time
from typing import Callable, Iterator, TextIO

import pytest

from ajudaplay import confirm
from ajudaplay.confirm import NotConfirmed, confirmer
from ajudaplay.engine.events import TaskStarted
from ajudaplay.report.console import ConsoleReporter


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], tuple[int, TextIO]]]:
    """Puts stdin and stderr on a real pseudo-terminal when called (in the test itself: pytest's own
    capturing swaps sys.stderr between phases); returns (master fd, the slave as a text stream)."""
    master, slave = pty.openpty()
    stdin = os.fdopen(slave, "r", buffering=1)
    stderr = os.fdopen(os.dup(slave), "w", buffering=1)

    def attach() -> tuple[int, TextIO]:
        monkeypatch.setattr("sys.stdin", stdin)
        monkeypatch.setattr("sys.stderr", stderr)
        return master, stderr

    try:
        yield attach
    finally:
        monkeypatch.undo()
        stdin.close()
        stderr.close()
        os.close(master)


def test_an_interrupted_run_ends_the_question_at_once(terminal: Callable[[], tuple[int, TextIO]]) -> None:
    terminal()
    interrupted = threading.Event()
    threading.Timer(0.3, interrupted.set).start()
    started = time.monotonic()
    with pytest.raises(NotConfirmed, match="interrupted before an answer; nothing was done"):
        confirmer(False, "alice", interrupted)("Restore api?")
    assert time.monotonic() - started < 2


def test_an_answer_typed_on_the_terminal_is_read(terminal: Callable[[], tuple[int, TextIO]]) -> None:
    master, _ = terminal()
    threading.Timer(0.2, lambda: os.write(master, b"y\n")).start()
    assert confirmer(False, "alice", threading.Event())("Restore api?") == "alice on the terminal"


def test_the_live_line_stops_while_a_question_is_open_and_comes_back(
        terminal: Callable[[], tuple[int, TextIO]]) -> None:
    _, stream = terminal()
    reporter = ConsoleReporter(stream, color=False, live=True, journaled=False)
    try:
        reporter.handle(TaskStarted("r", "p", "Restore", "x.yml:1:1", ["box"]))
        assert reporter._live is not None  # a terminal shows what runs
        confirm._question_open(True)
        assert reporter._live is None
        reporter.handle(TaskStarted("r", "p", "Other", "x.yml:2:1", ["box"]))  # events while asking
        assert reporter._live is None
        confirm._question_open(False)
        assert reporter._live is not None
    finally:
        reporter.close()
    confirm._question_open(True)  # a closed reporter no longer listens
    assert reporter._live is None
    confirm._question_open(False)
    assert reporter._live is None
