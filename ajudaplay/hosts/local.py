"""HostConnection for the controller itself (`@local`): `sh -c` subprocesses and direct file I/O.

Commands go through the (gevent-patched, when the CLI patched it) subprocess
module, in a process group of their own, so a timeout or a cancelled step
stops the command and its children (hosts/stopping.py), never ajudaplay.
"""

from __future__ import annotations

import os
import stat
import subprocess
import threading
import time
import uuid
from typing import BinaryIO

from ajudaplay.errors import Interrupted, TargetError
from ajudaplay.hosts.address import HostAddress
from ajudaplay.hosts.base import MARKER_VAR, CommandResult
from ajudaplay.hosts.stopping import (
    KILL_GRACE,
    decode,
    new_marker,
    refuse_cancelled,
    stop_local,
    stopped_message,
    timed_out,
)

CANCEL_POLL = 0.1  # how often a command with a cancel event looks at it


class LocalHost:
    """The controller itself (`@local`): `sh -c` subprocesses and direct file I/O."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.address = HostAddress(local=True)

    def run(
        self,
        command: str,
        *,
        timeout: float | None = None,
        env: dict[str, str] | None = None,
        stdin: str | None = None,
        cancel: threading.Event | None = None,
    ) -> CommandResult:
        """Run `sh -c command`; on timeout or `cancel` everything it started is stopped (hosts/stopping.py)."""
        refuse_cancelled(self.name, cancel)
        started = time.monotonic()
        marker = new_marker() if cancel is not None or timeout is not None else None
        extra = dict(env or {}, **({MARKER_VAR: marker} if marker else {}))
        proc = subprocess.Popen(
            ["sh", "-c", command],
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(os.environ, **extra) if extra else None,
            start_new_session=True,  # own process group: stopping it stops its children too
        )
        data = stdin.encode() if stdin is not None else None
        deadline = None if timeout is None else started + timeout
        while True:
            wait = None if cancel is None else CANCEL_POLL
            if deadline is not None:
                left = max(0.0, deadline - time.monotonic())
                wait = left if wait is None else min(wait, left)
            try:
                out, err = proc.communicate(data, timeout=wait)
                break
            except subprocess.TimeoutExpired:
                data = None  # sent by the first call; a retry must not send it again
            if cancel is not None and cancel.is_set():
                stopped = _stop(proc, marker)[2]
                raise Interrupted(stopped_message(self.name, stopped))
            if deadline is not None and time.monotonic() >= deadline:
                out, err, _ = _stop(proc, marker)
                return timed_out(command, timeout or 0.0, decode(out), decode(err), started)
        return CommandResult(command, proc.returncode, decode(out), decode(err), time.monotonic() - started)

    def read_file(self, path: str) -> bytes | None:
        """Contents of a local file, or None when it does not exist."""
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise TargetError(f"{self.name}: cannot read {path}: {exc.strerror or exc}") from exc

    def write_file(self, path: str, content: bytes, mode: int | None = None) -> None:
        """Atomic write: temp file in the same folder, fsync, chmod, rename over `path`."""
        folder = os.path.dirname(path) or "."
        tmp = os.path.join(folder, f".{os.path.basename(path)}.ajudaplay-{uuid.uuid4().hex[:8]}")
        try:
            if mode is None:
                try:
                    mode = stat.S_IMODE(os.stat(path).st_mode)
                except FileNotFoundError:
                    mode = None
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 if mode is None else 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            if mode is not None:
                os.chmod(tmp, mode)
            os.replace(tmp, path)
        except OSError as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise TargetError(f"{self.name}: cannot write {path}: {exc.strerror or exc}") from exc

    def stream_from(self, path: str, sink: BinaryIO, *, cancel: threading.Event | None = None) -> bool:
        """Copy a local file into `sink` in chunks; False when it does not exist."""
        try:
            with open(path, "rb") as handle:
                _pump(handle, sink, cancel, f"reading {path}")
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise TargetError(f"{self.name}: cannot read {path}: {exc.strerror or exc}") from exc
        return True

    def stream_to(self, source: BinaryIO, path: str, mode: int | None = None, *,
                  cancel: threading.Event | None = None) -> None:
        """Atomic chunked write: a temp file beside `path` (0600 before its first byte), then rename."""
        tmp = os.path.join(os.path.dirname(path) or ".", f".{os.path.basename(path)}.ajudaplay-{uuid.uuid4().hex[:8]}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                _pump(source, handle, cancel, f"writing {path}")
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600 if mode is None else mode)
            os.replace(tmp, path)
        except BaseException as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            if isinstance(exc, OSError):
                raise TargetError(f"{self.name}: cannot write {path}: {exc.strerror or exc}") from exc
            raise

    def close(self) -> None:
        """Nothing to close for the local host."""


def _stop(proc: subprocess.Popen[bytes], marker: str | None) -> tuple[bytes, bytes, bool]:
    """Stop the command and its strays; (stdout, stderr, whether nothing is left running)."""
    stopped = stop_local(proc, marker)
    try:
        out, err = proc.communicate(timeout=KILL_GRACE)
    except subprocess.TimeoutExpired:  # a process we may not signal still holds the output pipes
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        return b"", b"", False
    return out, err, stopped


STREAM_CHUNK = 1 << 20


def _pump(source: BinaryIO, sink: BinaryIO, cancel: threading.Event | None, what: str) -> None:
    """Copy chunk by chunk, stopping with Interrupted when the step is cancelled."""
    while chunk := source.read(STREAM_CHUNK):
        if cancel is not None and cancel.is_set():
            raise Interrupted(f"{what}: interrupted")
        sink.write(chunk)
