"""`run --step`: ask on the terminal before each task, as `ansible-playbook --step` does.

(y)es runs the task, (n)o skips it (the default: an Enter alone does not
run anything), (c)ontinue runs it and every later task without asking. The
question is asked between tasks, when nothing else runs, on the controlling
terminal as ajudaplay/confirm.py asks; without a terminal the run is refused
before it starts (`no_terminal_problem`), never hung on a pipe.
"""

from __future__ import annotations

import sys
from typing import Callable

from ajudaplay.errors import Diagnostic

ANSWERS = "(y)es/(n)o/(c)ontinue"


def terminal_ask(question: str) -> str:
    """Ask on stderr, read a line from stdin (both a terminal: `no_terminal_problem` made sure)."""
    sys.stderr.write(f"\n{question} ")
    sys.stderr.flush()
    line = sys.stdin.readline()
    return line if line else "n"  # end of input: run nothing more without a yes


def no_terminal_problem() -> Diagnostic | None:
    """Why --step cannot ask, or None when stdin and stderr are a terminal."""
    if sys.stdin.isatty() and sys.stderr.isatty():
        return None
    return Diagnostic(None, "--step asks before each task on the terminal, and stdin or stderr is not a terminal",
                      "run it from a terminal, or drop --step (--check shows what would change without asking)")


class StepGate:
    """The --step questions of one run; remembers a (c)ontinue."""

    def __init__(self, ask: Callable[[str], str] = terminal_ask) -> None:
        self._ask = ask
        self._continue = False

    def allows(self, task: str, targets: list[str], handler: bool = False) -> bool:
        """Ask whether to run this task; True for yes and continue."""
        if self._continue:
            return True
        kind = "RUNNING HANDLER" if handler else "TASK"
        where = ", ".join(targets[:5]) + (f" and {len(targets) - 5} more" if len(targets) > 5 else "")
        question = f"Perform task: {kind} [{task}] on {where}? {ANSWERS}:"
        asked = question
        while True:
            answer = self._ask(asked).strip().lower()
            if answer in ("y", "yes"):
                return True
            if answer in ("", "n", "no"):
                return False
            if answer in ("c", "continue"):
                self._continue = True
                return True
            asked = f"please answer y, n or c. {question}"
