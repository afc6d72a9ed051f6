"""A place inside a service where commands run and files stream: the ground of the database verbs.

A `Workspace` is one container with the service's files: a running container
of the service (`ServiceData.live_workspace`), or, while the service is
stopped, a short-lived container of the service's image with the same volumes
at the same paths (`ServiceData.offline`: a pod on Kubernetes, a one-off
container on Compose). Files move as byte streams, never whole in memory, so
a 200 MB database costs the controller a buffer, not 200 MB; every transfer is
checked with a sha256 computed on the target side.

Everything a workspace returns is data: output is bytes, paths are passed as
arguments (never spliced into a shell line).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Protocol

from ajudaplay.errors import TargetError

__all__ = ["FileMissing", "Ran", "Workspace"]


class FileMissing(TargetError):
    """The path asked for does not exist in the workspace."""


@dataclass(frozen=True)
class Ran:
    """One command's exit status and output, bytes as the target sent them."""

    rc: int
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def text(self) -> str:
        """stdout then stderr, decoded for messages (never rendered as a template)."""
        return (self.stdout + self.stderr).decode("utf-8", "replace")


class Workspace(Protocol):
    """A container holding the service's files (see the module docstring)."""

    where: str  # "pod api-5d9c-x container api", "container proj-api-1", "restore pod ajudaplay-data-api-1a2b"

    def run(self, argv: list[str], *, timeout: float | None = None, stdin: bytes | None = None) -> Ran:
        """Run argv (no shell unless argv says `sh -c`); never raises for a non-zero exit status.

        Raises TargetError when the command cannot be started, past `timeout`,
        and Interrupted (after stopping the command) when the step's cancel
        event is set.
        """
        ...

    def read_to(self, path: str, sink: BinaryIO) -> str:
        """Stream the file at `path` into `sink` (chunks, never whole); returns its sha256 (hex).

        The sha256 is computed in the container and compared with the bytes
        received (a stream cut short is resumed or refused: TargetError); raises
        FileMissing when `path` does not exist.
        """
        ...

    def write_from(self, source: BinaryIO, size: int, path: str) -> str:
        """Stream exactly `size` bytes of `source` to `path` (created or replaced, mode 0600 for a new
        file); returns the sha256 the container computed of what landed, TargetError unless it equals
        the sha256 of what was sent. The caller picks temporary names and renames (`run(["mv", ...])`)."""
        ...
