"""The host connection interface used by host actions and the Compose target."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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
    ) -> CommandResult:
        """Run a shell command (sh -c); never raises for a non-zero exit status."""
        ...

    def read_file(self, path: str) -> bytes | None:
        """Contents of a remote file, or None when it does not exist."""
        ...

    def write_file(self, path: str, content: bytes, mode: int | None = None) -> None:
        """Write a file atomically (temp file + rename) with an optional octal mode."""
        ...

    def close(self) -> None: ...
