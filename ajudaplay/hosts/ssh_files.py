"""File transfer on an SSH connection: reads over SFTP, atomic writes through one remote command,
and streams for large files (in: `cat` on a channel of its own; out: SFTP into a temp file, renamed).

Split from hosts/pyinfra_host.py, which owns the connection and the commands:
this side only needs the transport (for SFTP) and fresh channels (for a
write's `cat > tmp && mv`, a stream's `cat`), both handed in, so it shares the
host's one connection. The channel reader lives in hosts/ssh_channel.py.
"""

from __future__ import annotations

import io
import posixpath
import shlex
import stat
import threading
import uuid
from typing import TYPE_CHECKING, Any, BinaryIO, Callable

from ajudaplay.errors import Interrupted, TargetError, TargetUnreachable
from ajudaplay.hosts.ssh_channel import read_channel
from ajudaplay.hosts.ssh_connect import wrap
from ajudaplay.hosts.stopping import decode as _decode

if TYPE_CHECKING:
    from paramiko import SFTPClient

STREAM_CHUNK = 1 << 20  # bytes per SFTP write while streaming a file out
RECV_CHUNK = 1 << 18  # bytes per channel read while streaming a file in (on top of the 2 MB SSH window)
MISSING_RC = 44  # stream_from's `cat`: the file does not exist
CANCEL_POLL = 0.5  # seconds a stream waits for data before it looks at the cancel event again


class SSHFiles:
    """read_file/write_file of one PyinfraSSHHost, on its connection."""

    def __init__(self, name: str, url: str, transport: Callable[[], Any], open_channel: Callable[[], Any]) -> None:
        self.name = name
        self.url = url
        self._transport = transport  # raises TargetUnreachable once the connection is closed
        self._open_channel = open_channel
        self._sftp: SFTPClient | None = None
        self._sftp_lock = threading.Lock()  # SFTP requests are serialised per connection

    def _sftp_client(self) -> SFTPClient:
        # Our own SFTP session: pyinfra memoizes its one by the connector's repr (an address),
        # which can hand a dead session to a new connector at a recycled address.
        from paramiko import SFTPClient

        if self._sftp is None:
            client = SFTPClient.from_transport(self._transport())
            if client is None:
                raise TargetUnreachable(f"{self.url}: the SFTP subsystem is not available")
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

    def stream_from(self, path: str, sink: BinaryIO, *, cancel: threading.Event | None = None) -> bool:
        """A remote file into `sink` in chunks: `cat` on a channel of its own; False when it does not exist.

        Not SFTP: paramiko's prefetch (getfo) counts itself done as soon as the
        requests sent so far are answered; its thread keeps asking for the rest,
        and those answers are kept in memory, never read (seen: 180 MB held for
        a 200 MB file on a loaded machine). A channel's data is bounded by the
        SSH window instead: what `sink` has not taken is not sent.
        """
        q = shlex.quote(path)
        script = f"[ -e {q} ] || exit {MISSING_RC}; exec cat -- {q}"
        try:
            channel = self._open_channel()
            channel.settimeout(CANCEL_POLL)
            channel.exec_command(wrap(script, None))
        except TargetUnreachable:
            raise
        except Exception as exc:  # paramiko.SSHException, socket errors, EOFError
            raise TargetUnreachable(f"{self.url}: {exc or type(exc).__name__}") from exc
        try:
            self._pump_channel(channel, sink, cancel, f"reading {path}")
            channel.settimeout(None)
            rc = channel.recv_exit_status()
            err = channel.recv_stderr(4096) if channel.recv_stderr_ready() else b""
        finally:
            channel.close()
        if rc == MISSING_RC:
            return False
        if rc == -1:  # the channel closed without an exit status: the connection dropped
            raise TargetUnreachable(f"{self.url}: connection lost while reading {path}")
        if rc != 0:
            detail = _decode(err).strip().splitlines()[-1:] or [f"exit status {rc}"]
            raise TargetError(f"{self.name}: cannot read {path}: {detail[0]}")
        return True

    @staticmethod
    def _pump_channel(channel: Any, sink: BinaryIO, cancel: threading.Event | None, what: str) -> None:
        """Channel stdout into `sink` until EOF; Interrupted once `cancel` is set (checked every CANCEL_POLL)."""
        import socket

        while True:
            if cancel is not None and cancel.is_set():
                raise Interrupted(f"{what}: interrupted")
            try:
                chunk = channel.recv(RECV_CHUNK)
            except socket.timeout:
                continue
            if not chunk:
                return
            sink.write(chunk)

    def stream_to(self, source: BinaryIO, path: str, mode: int | None = None, *,
                  cancel: threading.Event | None = None) -> None:
        """`source` to a temp file beside `path` over SFTP (chmod 0600 before the data), then one rename."""
        tmp = posixpath.join(posixpath.dirname(path) or ".", f".{posixpath.basename(path)}.ajudaplay-{uuid.uuid4().hex[:8]}")
        with self._sftp_lock:
            sftp = self._sftp_client()
            try:
                with sftp.open(tmp, "wx") as handle:
                    handle.chmod(0o600)
                    handle.set_pipelined(True)
                    check = _cancel_check(cancel, f"writing {path}")
                    while chunk := source.read(STREAM_CHUNK):
                        check(0, 0)
                        handle.write(chunk)
                sftp.chmod(tmp, 0o600 if mode is None else mode)
                sftp.posix_rename(tmp, path)
            except BaseException as exc:
                try:
                    sftp.remove(tmp)
                except OSError:
                    pass
                if isinstance(exc, OSError):
                    raise TargetError(f"{self.name}: cannot write {path}: {exc.strerror or exc}") from exc
                raise

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
            channel.exec_command(wrap(script, None))
            channel.sendall(data)
            channel.shutdown_write()
        except TargetUnreachable:
            raise
        except Exception as exc:  # paramiko.SSHException, socket errors, EOFError
            raise TargetUnreachable(f"{self.url}: {exc or type(exc).__name__}") from exc
        _out, err, _finished = read_channel(channel, None)
        rc = channel.recv_exit_status()
        channel.close()
        if rc == -1:  # the channel closed without an exit status: the connection dropped
            raise TargetUnreachable(f"{self.url}: connection lost while writing a file")
        return rc, err

    def close(self) -> None:
        """Close the SFTP session, if one was opened; a broken one must not mask the real error."""
        if self._sftp is not None:
            try:
                self._sftp.close()
            except Exception:
                pass


def _cancel_check(cancel: threading.Event | None, what: str) -> Callable[[int, int], None]:
    """An SFTP progress callback that stops the transfer (Interrupted) once the step is cancelled."""
    def check(_done: int, _total: int) -> None:
        if cancel is not None and cancel.is_set():
            raise Interrupted(f"{what}: interrupted")
    return check
