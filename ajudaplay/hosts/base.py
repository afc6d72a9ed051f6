"""The host connection interface used by host actions and the Compose target."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import BinaryIO, Protocol

MARKER_VAR = "AJUDAPLAY_CMD"  # set in a cancellable command's environment: finds every process it started


@dataclass(frozen=True)
class CommandResult:
    """Exit status and output of one command on a host."""

    command: str
    rc: int
    stdout: str
    stderr: str
    duration: float

    @property
    def ok(self) -> bool:
        return self.rc == 0


class HostConnection(Protocol):
    """A connected host: run commands, move files. Implementations are thread/greenlet safe."""

    name: str

    def run(
        self,
        command: str,
        *,
        timeout: float | None = None,
        env: dict[str, str] | None = None,
        stdin: str | None = None,
        cancel: threading.Event | None = None,
    ) -> CommandResult:
        """Run a shell command (sh -c); never raises for a non-zero exit status.

        `cancel` is how a step says "stop now" (Ctrl-C, SIGTERM, a task timeout).
        When it is set before or while the command runs, the command is stopped
        (SIGTERM, then SIGKILL after a short grace, to every process it started,
        found by MARKER_VAR in their environment, even one in a session of its
        own) and run raises `ajudaplay.errors.Interrupted` once they are gone:
        an exception, not an exit status, so no caller mistakes a stopped
        command for a failed one and goes on (an undo, a retry) regardless.
        """
        ...

    def read_file(self, path: str) -> bytes | None:
        """Contents of a remote file, or None when it does not exist."""
        ...

    def write_file(self, path: str, content: bytes, mode: int | None = None) -> None:
        """Write a file atomically (temp file + rename) with an optional octal mode."""
        ...

    def stream_from(self, path: str, sink: BinaryIO, *, cancel: threading.Event | None = None) -> bool:
        """Copy a remote file into `sink` in chunks (never whole in memory); False when it does not exist."""
        ...

    def stream_to(self, source: BinaryIO, path: str, mode: int | None = None, *,
                  cancel: threading.Event | None = None) -> None:
        """Write `source` to a remote file in chunks, atomically (temp file + rename), optional octal mode."""
        ...

    def close(self) -> None: ...
