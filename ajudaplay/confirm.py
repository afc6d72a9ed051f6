"""Asking the operator before a step does something drastic (restore, approvals, `--step`).

One question at a time (targets run in parallel, the terminal is one), asked
on the controlling terminal, never on a pipe: without a terminal and without
`--yes` the answer is a clear refusal, never a hang.
"""

from __future__ import annotations

import select
import sys
import threading
from typing import Callable

from ajudaplay.errors import TargetError

_ONE_AT_A_TIME = threading.Lock()
# Called with True just before a question is written to the terminal and with False once it is
# answered: the console reporter stops its live line meanwhile, so no spinner draws over the prompt.
_QUESTION_HOOKS: list[Callable[[bool], None]] = []
POLL = 0.1  # seconds between looks at the terminal and at the run's interruption


def on_question(hook: Callable[[bool], None]) -> Callable[[], None]:
    """Register `hook(open)` for every question asked on the terminal; returns what unregisters it."""
    _QUESTION_HOOKS.append(hook)
    return lambda: _QUESTION_HOOKS.remove(hook) if hook in _QUESTION_HOOKS else None


def _question_open(is_open: bool) -> None:
    for hook in list(_QUESTION_HOOKS):
        hook(is_open)


class NotConfirmed(TargetError):
    """The operator said no, or nobody could be asked."""


def confirmer(assume_yes: bool, user: str, interrupted: threading.Event | None = None) -> Callable[[str], str]:
    """`confirm(question)`: who said yes ("alice (--yes)", "alice on the terminal"), else NotConfirmed.

    `interrupted` (the run's Ctrl-C) ends a question still waiting for its answer: NotConfirmed.
    """
    def confirm(question: str) -> str:
        if assume_yes:
            return f"{user} (--yes)"
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            raise NotConfirmed(f"{question}: needs a yes, and there is no terminal to ask on; "
                               "run it from a terminal, or pass --yes to answer yes in advance")
        with _ONE_AT_A_TIME:
            _question_open(True)
            try:
                sys.stderr.write(f"\n{question} [y/N] ")
                sys.stderr.flush()
                answer = _read_answer(question, interrupted)
            finally:
                _question_open(False)
        if answer not in ("y", "yes"):
            raise NotConfirmed(f"{question}: answered {answer or 'nothing'!r}, not yes; nothing was done")
        return f"{user} on the terminal"
    return confirm


def refuse(question: str) -> str:
    """The default of a StepContext made outside a run (tests, library use): nobody to ask."""
    raise NotConfirmed(f"{question}: needs a yes, and this context has nobody to ask (pass --yes)")


def _read_answer(question: str, interrupted: threading.Event | None) -> str:
    """One line from the terminal, given up when the run is interrupted (a blocking read could not be)."""
    while not select.select([sys.stdin], [], [], POLL)[0]:
        if interrupted is not None and interrupted.is_set():
            sys.stderr.write("\n")
            raise NotConfirmed(f"{question}: interrupted before an answer; nothing was done")
    return sys.stdin.readline().strip().lower()
