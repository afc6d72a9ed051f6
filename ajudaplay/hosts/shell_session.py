"""One long-lived `sh` per SSH connection that runs commands one after another.

A new SSH channel per command makes sshd fork a session and exec the login
shell every time: measured ~3 ms of the server's CPU and four extra protocol
messages per command, most of the machine's work on a 30-host run. Instead,
each command is written to a shell kept open on one channel:

    sh -c '<command>' </dev/null; printf '\\n%s %d\\n' MARK $?; printf '\\n%s\\n' MARK >&2

The command still runs in its own `sh -c` (same quoting, environment exports,
`timeout` wrapper and exit status as on a channel of its own), with stdin at
end of file as before, so it cannot change the shell (cd, export, exit) or
read the next command. MARK is random per command: no output can fake the end
of a command. stdout and stderr are drained together, so a command writing
megabytes to one stream cannot stall the SSH window. Whatever the login
shell's start-up files print is read and dropped when the shell starts.

Two differences with a channel per command, both in commands that were
already in trouble: a command killed by a signal reports 128+N instead of a
lost connection, and a background job left holding stdout no longer keeps the
command waiting (what it prints later lands in a later command's output).
The session serves one command at a time: the caller uses a channel of its
own when it is busy, when the command needs stdin, or when the shell is gone.
A command cut short (deadline, cancelled step) costs the shell: it is closed
and the next command starts a new one, so nothing can wedge it.
"""

from __future__ import annotations

import re
import socket
import threading
import time
import uuid
from typing import Any, Callable

STDERR_POLL = 0.05  # seconds of stdout silence after which buffered stderr is drained
_STATUS = re.compile(rb" (-?\d+)\n$")


class ShellGone(Exception):
    """The shell's channel closed before the command finished (connection lost, shell killed)."""


class ShellSession:
    """A `sh` reading commands from its stdin on one channel; `run` returns (rc, stdout, stderr)."""

    def __init__(self, open_channel: Callable[[], Any], shell_command: str) -> None:
        self._open_channel = open_channel  # a new session channel on the connection
        self._shell_command = shell_command  # how to start `sh` there (pyinfra's wrapping)
        self._channel: Any = None
        self.lock = threading.Lock()  # held by the one command running; others use a channel

    def run(
        self, wrapped: str, deadline: float | None, cancel: threading.Event | None = None,
    ) -> tuple[int | None, bytes, bytes]:
        """Run one `sh -c ...` command line: (exit status, stdout, stderr).

        The status is None when the deadline passed or `cancel` was set first:
        the output so far is returned and the shell is dropped (its channel
        closed, so it reads no further command and ends with the one it runs;
        stopping that one is the caller's job). Call with `lock` held. Raises
        ShellGone when the channel closed mid-command.
        """
        try:
            channel = self._channel
            if channel is not None and (channel.closed or channel.exit_status_ready()):
                self.close()  # the shell ended between commands: start a new one
                channel = None
            if channel is None:
                channel = self._open_channel()
                channel.exec_command(self._shell_command)
                self._channel = channel
                # Whatever the login shell's start-up files print belongs to no command.
                if self._exchange(channel, "true", deadline, cancel)[0] is None:
                    self.close()
                    return None, b"", b""
            finished = self._exchange(channel, wrapped, deadline, cancel)
        except ShellGone:
            self.close()
            raise
        except (OSError, EOFError) as exc:  # socket errors, paramiko's closed channel
            self.close()
            raise ShellGone(str(exc) or type(exc).__name__) from exc
        if finished[0] is None:
            self.close()  # the command may still run: never write to that shell again
        return finished

    def _exchange(
        self, channel: Any, wrapped: str, deadline: float | None, cancel: threading.Event | None,
    ) -> tuple[int | None, bytes, bytes]:
        mark = uuid.uuid4().hex.encode()
        channel.settimeout(None)  # a long command line waits for window space like stdin on a channel does
        channel.sendall(
            wrapped.encode() + b" </dev/null; printf '\\n%s %d\\n' " + mark + b" $?; printf '\\n%s\\n' " + mark + b" >&2\n"
        )
        return self._read_until(channel, b"\n" + mark, deadline, cancel)

    def _read_until(
        self, channel: Any, tag: bytes, deadline: float | None, cancel: threading.Event | None,
    ) -> tuple[int | None, bytes, bytes]:
        out = bytearray()
        err = bytearray()
        out_end = err_end = -1
        channel.settimeout(STDERR_POLL)
        while out_end < 0 or err_end < 0:
            if out_end < 0:
                scanned = max(0, len(out) - len(tag) - 24)
                chunk = _recv(channel.recv)
                if chunk == b"":
                    raise ShellGone("the shell's channel closed")
                if chunk:
                    out.extend(chunk)
                    out_end = _status_line(out, tag, scanned)
            while channel.recv_stderr_ready():
                err.extend(channel.recv_stderr(65536))
            if out_end >= 0 and not err.endswith(tag + b"\n"):  # stdout is complete: wait for stderr's end
                chunk = _recv(channel.recv_stderr)
                if chunk == b"":
                    raise ShellGone("the shell's channel closed")
                if chunk:
                    err.extend(chunk)
            if err.endswith(tag + b"\n"):
                err_end = len(err) - len(tag) - 1
            if (deadline is not None and time.monotonic() > deadline) or (cancel is not None and cancel.is_set()):
                return None, bytes(out), bytes(err)
        status = _STATUS.search(bytes(out[out_end + len(tag):]))
        rc = int(status.group(1)) if status else -1
        return rc, bytes(out[:out_end]), bytes(err[:err_end])

    def close(self) -> None:
        """Close the shell's channel (safe twice); the next `run` opens a new shell."""
        channel, self._channel = self._channel, None
        if channel is not None:
            try:
                channel.close()
            except Exception:  # closing a broken channel must not mask the real error
                pass


def _recv(read: Callable[[int], bytes]) -> bytes | None:
    """One read from a channel stream: bytes, b"" at end of stream, None when nothing came in time."""
    try:
        return read(65536)
    except socket.timeout:
        return None


def _status_line(out: bytearray, tag: bytes, start: int) -> int:
    """Where the end-of-command line starts in `out` once it is complete, else -1."""
    at = out.find(tag + b" ", start)
    if at < 0 or out.find(b"\n", at + len(tag)) < 0:
        return -1
    return at
