"""Documented, stable exit codes (docs/user-guide.md lists them; tests lock them)."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    INTERNAL_ERROR = 1  # a bug in ajudaplay: please report it
    FAILED = 2  # one or more steps failed or a target was unreachable
    INVALID_INPUT = 3  # playbook, inventory or command line is invalid; nothing ran
    LOCK_HELD = 4  # another run holds the environment lock; nothing ran on that target
    JOURNAL_ERROR = 5  # the journal cannot be opened or written
    INTERRUPTED = 130  # Ctrl-C / SIGTERM; running steps were stopped, the run journaled
