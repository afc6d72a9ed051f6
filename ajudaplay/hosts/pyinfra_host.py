"""HostConnection over pyinfra 3 used as a library: SSH (paramiko); `@local` is hosts/local.py.

pyinfra builds and authenticates the SSH connection (hosts/ssh_connect.py:
a private State/Inventory per host, no global context proxy). Once
connected we open one paramiko channel per command on that single persistent
transport: pyinfra's `run_shell_command` returns only a success flag and
decodes output line by line, while HostConnection needs the exit status,
exact bytes and a command killed on timeout. Commands go, one at a time, to a
long-lived `sh` on one channel (ajudaplay/hosts/shell_session.py: a third of
the server's work per command); a command with stdin, or one arriving while
the shell is busy, gets a channel of its own. A command that outlives its
deadline or its step is stopped on the host by its marker (hosts/stopping.py).
Files go over the same connection (hosts/ssh_files.py).

Nothing here patches gevent: the CLI and tests/conftest.py do it once, first.
"""

from __future__ import annotations

import shlex
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from ajudaplay.errors import Interrupted, TargetError, TargetUnreachable
from ajudaplay.hosts.address import HostAddress, parse_connection
from ajudaplay.hosts.base import MARKER_VAR, CommandResult, HostConnection
from ajudaplay.hosts.local import LocalHost
from ajudaplay.hosts.shell_session import ShellGone, ShellSession
from ajudaplay.hosts.ssh_channel import read_channel as _read_channel
from ajudaplay.hosts.ssh_connect import open_ssh
from ajudaplay.hosts.ssh_connect import wrap as _wrap
from ajudaplay.hosts.ssh_files import SSHFiles
from ajudaplay.hosts.stopping import decode as _decode
from ajudaplay.hosts.stopping import (
    KILL_GRACE,
    TIMEOUT_RC,
    new_marker,
    refuse_cancelled,
    remote_stop_script,
    stopped_message,
    timed_out,
)

if TYPE_CHECKING:
    from paramiko import SSHClient

__all__ = ["LocalHost", "PyinfraSSHHost", "connect_host"]

STOP_DEADLINE = 2 * KILL_GRACE + 3  # the remote stop script's own bound (TERM, KILL, slack)


def connect_host(connection: dict[str, Any], name: str) -> HostConnection:
    """Open the connection a host/compose target's inventory describes; raises TargetUnreachable."""
    address = parse_connection(connection, name)
    host: HostConnection
    if address.local:
        host = LocalHost(name)
    else:
        host = PyinfraSSHHost(name, address)
    return host


@dataclass(frozen=True)
class _Running:
    """One SSH command in flight: what to report and how to stop it."""

    command: str
    timeout: float | None
    started: float
    cancel: threading.Event | None = None
    marker: str | None = None


class PyinfraSSHHost:
    """One persistent SSH connection made by pyinfra's SSHConnector; commands go to a shell on it."""

    def __init__(self, name: str, address: HostAddress) -> None:
        self.name = name
        self.address = address
        self._has_timeout: bool | None = None
        self._closed = False
        self._client: SSHClient
        self._pyinfra_host: Any
        self._client, self._pyinfra_host = open_ssh(address)
        self._shell = ShellSession(self._open_channel, _wrap("exec sh", None))
        self._files = SSHFiles(name, address.url, self._transport, self._open_channel)

    # connection ------------------------------------------------------------
    def _transport(self) -> Any:
        transport = self._client.get_transport()
        if self._closed or transport is None or not transport.is_active():
            raise TargetUnreachable(f"{self.address.url}: connection is closed")
        return transport

    def _open_channel(self) -> Any:
        return self._transport().open_session(timeout=self.address.connect_timeout)

    # commands --------------------------------------------------------------
    def run(
        self,
        command: str,
        *,
        timeout: float | None = None,
        env: dict[str, str] | None = None,
        stdin: str | None = None,
        cancel: threading.Event | None = None,
    ) -> CommandResult:
        """Run `sh -c command` in the connection's shell (or a new channel); a timeout kills it remotely.

        The remote kill uses coreutils/busybox `timeout` when the host has it;
        past our own deadline, or on `cancel`, the processes the command started
        are stopped by their marker from a channel of their own (hosts/stopping.py)
        and the shell it ran in is closed, never reused.
        """
        refuse_cancelled(self.name, cancel)
        started = time.monotonic()
        inner = command
        if timeout is not None and self._remote_timeout_available():
            inner = f"exec timeout -k {KILL_GRACE:g} {timeout:g} sh -c {shlex.quote(command)}"
        if env:
            for key in env:
                if not key.isidentifier():
                    raise TargetError(f"{self.name}: invalid environment variable name {key!r}")
        marker = new_marker() if cancel is not None or timeout is not None else None
        if marker:  # `;`, not pyinfra's `export ... &&`, which binds to the first job of `a & b` only
            inner = f"export {MARKER_VAR}={marker}; {inner}"
        wrapped = _wrap(inner, env)
        deadline_after = None if timeout is None else timeout + KILL_GRACE + 3
        run = _Running(command, timeout, started, cancel, marker)
        if stdin is None and self._shell.lock.acquire(blocking=False):
            try:
                return self._run_in_shell(run, wrapped, deadline_after)
            finally:
                self._shell.lock.release()
        return self._run_on_channel(command, wrapped, timeout, stdin, started, deadline_after, run)

    def _run_in_shell(self, run: _Running, wrapped: str, deadline_after: float | None) -> CommandResult:
        deadline = None if deadline_after is None else run.started + deadline_after
        try:
            finished = self._shell.run(wrapped, deadline, run.cancel)
        except ShellGone as exc:
            self._transport()  # "connection is closed" when the whole connection went
            raise TargetUnreachable(f"{self.address.url}: connection lost while running a command") from exc
        except TargetUnreachable:
            raise
        except Exception as exc:  # opening the shell's channel: paramiko.SSHException, socket errors
            raise TargetUnreachable(f"{self.address.url}: {exc or type(exc).__name__}") from exc
        rc, out, err = finished
        if rc is None:  # deadline or cancel: the session already dropped that shell
            return self._abandoned(run, out, err)
        return self._result(run.command, rc, out, err, run.timeout, run.started)

    def _run_on_channel(
        self, command: str, wrapped: str, timeout: float | None, stdin: str | None, started: float,
        deadline_after: float | None, run: _Running | None = None,
    ) -> CommandResult:
        try:
            channel = self._open_channel()
            channel.exec_command(wrapped)
            if stdin is not None:
                channel.sendall(stdin.encode())
            channel.shutdown_write()
        except TargetUnreachable:
            raise
        except Exception as exc:  # paramiko.SSHException, socket errors, EOFError
            raise TargetUnreachable(f"{self.address.url}: {exc or type(exc).__name__}") from exc
        out, err, finished = _read_channel(channel, deadline_after, run.cancel if run else None)
        if not finished:
            channel.close()
            return self._abandoned(run or _Running(command, timeout, started), out, err)
        rc = channel.recv_exit_status()
        channel.close()
        return self._result(command, rc, out, err, timeout, started)

    def _abandoned(self, run: _Running, out: bytes, err: bytes) -> CommandResult:
        """The command outlived its deadline or its step: stop what it started, then say which."""
        stopped = run.marker is None or self._stop_remote(run.marker)
        if run.cancel is not None and run.cancel.is_set():
            raise Interrupted(stopped_message(self.name, stopped))
        return timed_out(run.command, run.timeout or 0.0, _decode(out), _decode(err), run.started)

    def _stop_remote(self, marker: str) -> bool:
        """Run the stop script on a channel of its own (the shell is gone); True when nothing is left."""
        script = remote_stop_script(marker)
        try:
            res = self._run_on_channel(script, _wrap(script, None), None, None, time.monotonic(), STOP_DEADLINE)
        except TargetError:  # the connection is gone: nothing more can be done from here
            return False
        return res.rc == 0

    def _result(self, command: str, rc: int, out: bytes, err: bytes, timeout: float | None, started: float) -> CommandResult:
        if rc == TIMEOUT_RC and timeout is not None and time.monotonic() - started >= timeout:
            return timed_out(command, timeout, _decode(out), _decode(err), started)
        if rc == -1:  # the channel closed without an exit status: the connection dropped
            raise TargetUnreachable(f"{self.address.url}: connection lost while running a command")
        return CommandResult(command, rc, _decode(out), _decode(err), time.monotonic() - started)

    def _remote_timeout_available(self) -> bool:
        if self._has_timeout is None:
            probe = self.run("command -v timeout >/dev/null 2>&1")
            self._has_timeout = probe.rc == 0
        return self._has_timeout

    # files -----------------------------------------------------------------
    def read_file(self, path: str) -> bytes | None:
        """Remote file contents over SFTP, or None when it does not exist."""
        return self._files.read_file(path)

    def write_file(self, path: str, content: bytes, mode: int | None = None) -> None:
        """Atomic write (a temp file renamed over `path`); see SSHFiles.write_file."""
        self._files.write_file(path, content, mode)

    def stream_from(self, path: str, sink: BinaryIO, *, cancel: threading.Event | None = None) -> bool:
        """Chunked read over SFTP; see SSHFiles.stream_from."""
        return self._files.stream_from(path, sink, cancel=cancel)

    def stream_to(self, source: BinaryIO, path: str, mode: int | None = None, *,
                  cancel: threading.Event | None = None) -> None:
        """Chunked atomic write over SFTP; see SSHFiles.stream_to."""
        self._files.stream_to(source, path, mode, cancel=cancel)

    def close(self) -> None:
        """Close the SFTP session and the SSH transport; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._shell.close()
        self._files.close()
        try:
            self._client.close()
        except Exception:
            pass
        if self._pyinfra_host is not None:
            self._pyinfra_host.connected = False
