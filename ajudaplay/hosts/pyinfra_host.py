"""HostConnection over pyinfra 3 used as a library: SSH (paramiko); `@local` is hosts/local.py.

pyinfra builds and authenticates the SSH connection (its SSHConnector honours
~/.ssh/config, keys, agents, known_hosts and StrictHostKeyChecking) inside a
private State/Inventory per host, so no global context proxy is touched. Once
connected we open one paramiko channel per command on that single persistent
transport: pyinfra's `run_shell_command` returns only a success flag and
decodes output line by line, while HostConnection needs the exit status,
exact bytes and a command killed on timeout. Commands go, one at a time, to a
long-lived `sh` on one channel (ajudaplay/hosts/shell_session.py: a third of
the server's work per command); a command with stdin, or one arriving while
the shell is busy, gets a channel of its own. A command that outlives its
deadline or its step is stopped on the host by its marker (hosts/stopping.py).

Nothing here patches gevent: the CLI and tests/conftest.py do it once, first.
"""

from __future__ import annotations

import io
import os
import posixpath
import shlex
import socket
import stat
import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ajudaplay.errors import Interrupted, TargetError, TargetUnreachable
from ajudaplay.hosts.address import HostAddress, parse_connection
from ajudaplay.hosts.base import MARKER_VAR, CommandResult, HostConnection
from ajudaplay.hosts.local import LocalHost
from ajudaplay.hosts.shell_session import ShellGone, ShellSession
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
    from paramiko import SFTPClient, SSHClient

STDERR_POLL = 0.05  # seconds of stdout silence after which buffered stderr is drained
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
        self._sftp: SFTPClient | None = None
        self._sftp_lock = threading.Lock()  # SFTP requests are serialised per connection
        self._has_timeout: bool | None = None
        self._closed = False
        self._pyinfra_host: Any = None
        self._client: SSHClient = self._connect()
        self._shell = ShellSession(self._open_channel, _wrap("exec sh", None))

    # connection ------------------------------------------------------------
    def _connect(self) -> SSHClient:
        """Build a private pyinfra State with one host and connect it (no global context)."""
        import logging

        from pyinfra.api.config import Config
        from pyinfra.api.exceptions import PyinfraError
        from pyinfra.api.state import State

        _quiet_pyinfra_logger(logging.getLogger("pyinfra"))
        addr = self.address
        data: dict[str, Any] = {
            "ssh_hostname": addr.hostname,
            "ssh_port": addr.port,
            "ssh_strict_host_key_checking": "yes" if addr.host_key_check else "no",
        }
        if addr.user:
            data["ssh_user"] = addr.user
        if addr.key:
            data["ssh_key"] = addr.key
        if not addr.host_key_check:
            data["ssh_known_hosts_file"] = os.devnull  # opted out: no key is compared, none is written
        elif addr.known_hosts:
            data["ssh_known_hosts_file"] = addr.known_hosts
        config = Config(CONNECT_TIMEOUT=max(1, int(addr.connect_timeout)), PARALLEL=1)  # type: ignore[no-untyped-call]
        inventory = _ssh_inventory(addr.hostname, data)
        state = State(inventory, config)
        host = next(iter(inventory))
        try:
            host.connector.connect()
        except PyinfraError as exc:
            raise TargetUnreachable(f"{addr.url}: {_explain(exc, addr)}") from exc
        except Exception as exc:  # paramiko raises a zoo of types through pyinfra
            raise TargetUnreachable(f"{addr.url}: {_explain(exc, addr)}") from exc
        host.connected = True
        state.activate_host(host)
        self._pyinfra_host = host
        client: SSHClient | None = getattr(host.connector, "client", None)
        if client is None:
            raise TargetUnreachable(f"{addr.url}: pyinfra returned no SSH client")
        transport = client.get_transport()
        if transport is not None:
            transport.set_keepalive(30)  # idle connections survive NAT/firewall timeouts in long runs
        if transport is not None and addr.tcp_nodelay:
            sock = transport.sock
            if isinstance(sock, socket.socket):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return client

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
    def _sftp_client(self) -> SFTPClient:
        # Our own SFTP session: pyinfra memoizes its one by the connector's repr (an address),
        # which can hand a dead session to a new connector at a recycled address.
        from paramiko import SFTPClient

        if self._sftp is None:
            client = SFTPClient.from_transport(self._transport())
            if client is None:
                raise TargetUnreachable(f"{self.address.url}: the SFTP subsystem is not available")
            self._sftp = client
        return self._sftp

    def read_file(self, path: str) -> bytes | None:
        """Remote file contents over SFTP, or None when it does not exist."""
        buffer = io.BytesIO()
        with self._sftp_lock:
            try:
                self._sftp_client().getfo(path, buffer)
            except FileNotFoundError:
                return None
            except OSError as exc:
                raise TargetError(f"{self.name}: cannot read {path}: {exc.strerror or exc}") from exc
        return buffer.getvalue()

    def write_file(self, path: str, content: bytes, mode: int | None = None) -> None:
        """Atomic write: a temp file beside `path`, chmod, rename over it, in one remote command.

        With a mode (and every secret is written with one) the temp file is
        created under `umask 077`, so it is 0600 before its first byte lands,
        as LocalHost does with os.open(..., 0o600); SFTP cannot set the mode at
        creation. Without one, an existing file keeps its mode.
        """
        folder = posixpath.dirname(path) or "."
        tmp = posixpath.join(folder, f".{posixpath.basename(path)}.ajudaplay-{uuid.uuid4().hex[:8]}")
        if mode is None:
            mode = self._mode_of(path)
        q = shlex.quote
        create = f"set -C && cat > {q(tmp)}" if mode is None else f"umask 077 && set -C && cat > {q(tmp)} && chmod {mode:o} {q(tmp)}"
        script = f"{{ {create} && mv -f {q(tmp)} {q(path)}; }} || {{ rc=$?; rm -f {q(tmp)}; exit $rc; }}"
        rc, err = self._run_with_input(script, content)
        if rc != 0:
            detail = _decode(err).strip().splitlines()[-1:] or [f"exit status {rc}"]
            raise TargetError(f"{self.name}: cannot write {path}: {detail[0]}")

    def _mode_of(self, path: str) -> int | None:
        """The permission bits of an existing remote file, None when it does not exist."""
        with self._sftp_lock:
            try:
                return stat.S_IMODE(self._sftp_client().stat(path).st_mode or 0o644)
            except FileNotFoundError:
                return None
            except OSError as exc:
                raise TargetError(f"{self.name}: cannot read the mode of {path}: {exc.strerror or exc}") from exc

    def _run_with_input(self, script: str, data: bytes) -> tuple[int, bytes]:
        """Run `script` on a channel of its own with `data` (bytes, not text) as its stdin: (rc, stderr)."""
        try:
            channel = self._open_channel()
            channel.exec_command(_wrap(script, None))
            channel.sendall(data)
            channel.shutdown_write()
        except TargetUnreachable:
            raise
        except Exception as exc:  # paramiko.SSHException, socket errors, EOFError
            raise TargetUnreachable(f"{self.address.url}: {exc or type(exc).__name__}") from exc
        _out, err, _finished = _read_channel(channel, None)
        rc = channel.recv_exit_status()
        channel.close()
        if rc == -1:  # the channel closed without an exit status: the connection dropped
            raise TargetUnreachable(f"{self.address.url}: connection lost while writing a file")
        return rc, err

    def close(self) -> None:
        """Close the SFTP session and the SSH transport; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._shell.close()
        if self._sftp is not None:
            try:
                self._sftp.close()
            except Exception:  # closing a broken session must not mask the real error
                pass
        try:
            self._client.close()
        except Exception:
            pass
        if self._pyinfra_host is not None:
            self._pyinfra_host.connected = False


def _wrap(command: str, env: dict[str, str] | None) -> str:
    """pyinfra's `sh -c '...'` wrapping, with the environment exported inside it."""
    from pyinfra.api.command import StringCommand
    from pyinfra.connectors.util import make_unix_command

    wrapped: str = make_unix_command(StringCommand(command), _env=env or None).get_raw_value()
    return wrapped


def _ssh_inventory(hostname: str, data: dict[str, Any]) -> Any:
    """A pyinfra Inventory holding one SSH host.

    pyinfra's Inventory looks its connectors up through importlib entry points
    (a scan of site-packages, ~20 ms of CPU) every time it is built; with one
    Inventory per target that dominated a 30-host run. The host here is always
    SSH, so the subclass names the connector class directly.
    """
    from pyinfra.api.host import Host
    from pyinfra.api.inventory import Inventory
    from pyinfra.connectors.ssh import SSHConnector

    class OneSSHHostInventory(Inventory):
        def make_hosts_and_groups(self, names: Any, groups: Any) -> None:
            (name, host_data), = names
            self.host_data[name] = dict(host_data)
            self.hosts = {name: Host(name, inventory=self, groups=[], connector_cls=SSHConnector)}

    return OneSSHHostInventory(([(hostname, data)], {}))  # type: ignore[no-untyped-call]


def _read_channel(
    channel: Any, deadline_after: float | None, cancel: threading.Event | None = None,
) -> tuple[bytes, bytes, bool]:
    """Drain stdout and stderr without a helper thread; False when the deadline passed or `cancel` was set.

    Blocks on stdout and, whenever stdout is quiet for STDERR_POLL seconds,
    empties stderr, so a command writing megabytes to stderr cannot stall on
    the shared SSH window. A thread per command cost more than the command.
    """
    out = bytearray()
    err = bytearray()
    deadline = None if deadline_after is None else time.monotonic() + deadline_after
    channel.settimeout(STDERR_POLL)
    stdout_open = True
    while True:
        if stdout_open:
            try:
                chunk = channel.recv(65536)
                if chunk:
                    out.extend(chunk)
                else:
                    stdout_open = False
            except socket.timeout:
                pass
        while channel.recv_stderr_ready():
            err.extend(channel.recv_stderr(65536))
        if not stdout_open:
            try:
                chunk = channel.recv_stderr(65536)
            except socket.timeout:
                chunk = None
            if chunk == b"":
                return bytes(out), bytes(err), True
            if chunk:
                err.extend(chunk)
        if (deadline is not None and time.monotonic() > deadline) or (cancel is not None and cancel.is_set()):
            return bytes(out), bytes(err), False


def _explain(exc: BaseException, addr: HostAddress) -> str:
    """A one-line reason for a failed connect, from the innermost cause pyinfra/paramiko gave."""
    inner: BaseException = exc
    while inner.__cause__ is not None or inner.__context__ is not None:
        nxt = inner.__cause__ or inner.__context__
        assert nxt is not None
        inner = nxt
    text = str(inner) or type(inner).__name__
    causes = list(getattr(inner, "errors", {}).values()) or [inner]  # paramiko NoValidConnectionsError
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
        return "connection refused"
    if isinstance(inner, socket.timeout) or isinstance(inner, TimeoutError):
        return f"connection timed out after {addr.connect_timeout:g}s"
    if "No host key for" in text or "StrictPolicy" in text:
        where = addr.known_hosts or "~/.ssh/known_hosts"
        return (
            f"host key is not in {where}; add it (ssh-keyscan -p {addr.port} {addr.hostname} >> {where}) "
            "or set `host_key_check: false` for this target"
        )
    if "does not match" in str(exc):
        return f"host key does not match the one in {addr.known_hosts or '~/.ssh/known_hosts'} (possible man-in-the-middle)"
    if "Authentication" in str(exc):
        return f"authentication failed ({exc})"
    return str(exc) or text


def _quiet_pyinfra_logger(logger: Any) -> None:
    """pyinfra logs through `logging`; without a handler Python prints its warnings to stderr."""
    import logging

    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
