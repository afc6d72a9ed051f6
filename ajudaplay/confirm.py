"""Asking the operator before a step does something drastic (restore, approvals, `--step`).

One question at a time (targets run in parallel, the terminal is one), asked
on the controlling terminal, never on a pipe: without a terminal and without
`--yes` the answer is a clear refusal, never a hang.
"""

from __future__ import annotations

import sys
import threading
from typing import Callable

from ajudaplay.errors import TargetError

_ONE_AT_A_TIME = threading.Lock()


class NotConfirmed(TargetError):
    """The operator said no, or nobody could be asked."""


def confirmer(assume_yes: bool, user: str) -> Callable[[str], str]:
    """`confirm(question)`: who said yes ("alice (--yes)", "alice on the terminal"), else NotConfirmed."""
    def confirm(question: str) -> str:
        if assume_yes:
            return f"{user} (--yes)"
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            raise NotConfirmed(f"{question}: needs a yes, and there is no terminal to ask on; "
                               "run it from a terminal, or pass --yes to answer yes in advance")
        with _ONE_AT_A_TIME:
            sys.stderr.write(f"\n{question} [y/N] ")
            sys.stderr.flush()
            answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            raise NotConfirmed(f"{question}: answered {answer or 'nothing'!r}, not yes; nothing was done")
        return f"{user} on the terminal"
    return confirm


def refuse(question: str) -> str:
    """The default of a StepContext made outside a run (tests, library use): nobody to ask."""
    raise NotConfirmed(f"{question}: needs a yes, and this context has nobody to ask (pass --yes)")
