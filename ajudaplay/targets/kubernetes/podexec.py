"""A byte-exact exec in one pod (the pods/exec subresource), and stopping what an exec started.

The `exec` action's stream (execution.py) is text; copying files (copying.py)
needs bytes both ways, so this one runs the websocket in binary mode. The
exit code comes from the status channel as there (execution._exit_code).

`run` collects a command's output; `stream` moves bytes through (stdout to a sink, stdin from a
source, chunk by chunk) for files too big to hold: the database verbs' workspace (workspace.py).

Stopping: closing an exec stream does not signal the process in the
container (the kubelet's exec session just loses its client), so a command
that may have to be stopped runs under `sh -c` with `AJUDAPLAY_CMD=<marker>`
exported, and `stop()` runs, in a second exec, the stop script
SSH hosts use (hosts/stopping.py, busybox-safe): SIGTERM, then SIGKILL, to every process
whose environment holds the marker, children and daemons included. That
needs `sh`, `tr` and `grep` in the image; without `sh` the command runs
unwrapped and the caller warns that it cannot be stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol

from ajudaplay.errors import Interrupted, TargetError
from ajudaplay.hosts.base import MARKER_VAR
from ajudaplay.hosts.stopping import KILL_GRACE, remote_stop_script

if TYPE_CHECKING:
    import threading

    from ajudaplay.targets.kubernetes.api import Kube

POLL = 0.2
STDIN, STDOUT, STDERR, STATUS = 0, 1, 2, 3
CHUNK = 1 << 16
STOP_DEADLINE = 2 * KILL_GRACE + 10
WRAPPER = f'{MARKER_VAR}="$0"; export {MARKER_VAR}; exec "$@"'


@dataclass(frozen=True)
class Finished:
    """One exec's outcome, bytes as sent."""

    rc: int
    stdout: bytes
    stderr: bytes
    error: str = ""  # the status channel's message when the command could not run or failed


def wrap(argv: list[str], marker: str) -> list[str]:
    """argv run under sh with the marker in its environment (and so in every process it starts)."""
    return ["sh", "-c", WRAPPER, marker, *argv]


def no_shell(done: Finished) -> bool:
    """The wrapped command never started because the image has no `sh`."""
    text = f"{done.error}\n{done.stdout.decode('utf-8', 'replace')}\n{done.stderr.decode('utf-8', 'replace')}"
    return done.rc in (126, 127) and 'exec: "sh"' in text  # the runtime's words (dockershim: on stdout)


def run(kube: Kube, pod: str, container: str, argv: list[str], *, stdin: bytes | None = None,
        timeout: float | None = None, cancel: threading.Event | None = None, what: str = "exec") -> Finished:
    """Run argv in the pod; raises Interrupted on `cancel`, TargetError past `timeout` (the stream is closed)."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException
    from kubernetes.stream import stream

    from ajudaplay.targets.kubernetes.execution import _exit_code

    core = client.CoreV1Api(kube.api_client)
    try:
        ws = stream(core.connect_get_namespaced_pod_exec, pod, kube.namespace, command=argv, container=container,
                    stdin=stdin is not None, stdout=True, stderr=True, tty=False, binary=True,
                    _preload_content=False)
    except ApiException as exc:
        raise TargetError(f"{what}: pod {pod!r} container {container!r}: {exc.reason or exc}") from exc
    out, err, status = bytearray(), bytearray(), bytearray()
    deadline = time.monotonic() + timeout if timeout else None
    try:
        if stdin is not None:
            for start in range(0, len(stdin), CHUNK):
                ws.write_channel(STDIN, stdin[start:start + CHUNK])
            if getattr(ws, "subprotocol", None) == "v5.channel.k8s.io":
                ws.close_channel(STDIN)
        while True:
            if cancel is not None and cancel.is_set():
                raise Interrupted(f"{what}: interrupted")
            if deadline is not None and time.monotonic() > deadline:
                raise TargetError(f"{what}: still running after {timeout:g}s in pod {pod}")
            # Closed before this round's reads: they only drain the buffers (read_channel may itself read more
            # frames, the close among them, and leave another channel's data buffered), then stop.
            closed = not ws.is_open()
            ws.update(timeout=POLL)
            out += ws.read_channel(STDOUT)
            err += ws.read_channel(STDERR)
            status += ws.read_channel(STATUS)
            if closed:
                break
    finally:
        ws.close()
    rc, error = _exit_code(status.decode("utf-8", "replace"))
    return Finished(rc, bytes(out), bytes(err), error)


def stop(kube: Kube, pod: str, container: str, marker: str) -> bool:
    """Stop every process of the pod's container holding `marker`; True when none is left."""
    try:
        done = run(kube, pod, container, ["sh", "-c", remote_stop_script(marker)], timeout=STOP_DEADLINE,
                   what=f"stopping the command in pod {pod}")
    except (TargetError, OSError):
        return False
    except Exception:  # noqa: BLE001 - a websocket error while cleaning up must not hide the first error
        return False
    return done.rc == 0


class Sink(Protocol):
    """Where a streamed command's stdout goes (a binary file, or a wrapper that hashes on the way)."""

    def write(self, data: bytes, /) -> object: ...


class Source(Protocol):
    """Where a streamed command's stdin comes from."""

    def read(self, size: int, /) -> bytes: ...


ERROR_TAIL = 1 << 16  # bytes of stderr kept from a streamed command: enough for a message, never the whole output


def stream(kube: Kube, pod: str, container: str, argv: list[str], *, sink: Sink | None = None,
           source: Source | None = None, size: int = 0, timeout: float | None = None,
           cancel: threading.Event | None = None, what: str = "exec") -> Finished:
    """Like `run`, but bytes flow through: stdout is written to `sink` frame by frame (Finished.stdout stays
    empty), and `size` bytes of `source` are sent as stdin in CHUNK pieces, so neither side is ever whole in
    memory. stderr keeps its last ERROR_TAIL bytes.

    `run` collects with WSClient.update(), which keeps reading while frames are waiting and so may buffer a
    fast stream whole; this reads one frame at a time from the websocket instead. The end of stdin is sent
    as a channel close on v5.channel.k8s.io; a v4 server (Kubernetes < 1.30) cannot be told, so the
    command must stop reading by itself after `size` bytes (`head -c SIZE`). A source that ends before
    `size` bytes is a TargetError (the stream is closed: the caller stops the command). Raises Interrupted
    on `cancel`, TargetError past `timeout`.
    """
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException
    from kubernetes.stream import stream as open_stream

    from ajudaplay.targets.kubernetes.execution import _exit_code

    core = client.CoreV1Api(kube.api_client)
    try:
        ws = open_stream(core.connect_get_namespaced_pod_exec, pod, kube.namespace, command=argv, container=container,
                         stdin=source is not None, stdout=True, stderr=True, tty=False, binary=True,
                         _preload_content=False)
    except ApiException as exc:
        raise TargetError(f"{what}: pod {pod!r} container {container!r}: {exc.reason or exc}") from exc
    frames = _Frames(ws, sink)
    deadline = time.monotonic() + timeout if timeout else None

    def check() -> None:
        if cancel is not None and cancel.is_set():
            raise Interrupted(f"{what}: interrupted")
        if deadline is not None and time.monotonic() > deadline:
            raise TargetError(f"{what}: still running after {timeout:g}s in pod {pod}")

    try:
        if source is not None:
            _send(ws, frames, source, size, check, what)
        while frames.open:
            check()
            frames.take(POLL)
    finally:
        ws.close()
    rc, error = _exit_code(frames.status.decode("utf-8", "replace"))
    return Finished(rc, b"", bytes(frames.stderr), error)


def _send(ws: Any, frames: _Frames, source: Source, size: int, check: Callable[[], None], what: str) -> None:
    """stdin: exactly `size` bytes of `source`, reading what arrives between chunks (and noticing an early end)."""
    left = size
    while left > 0:
        check()
        chunk = source.read(min(CHUNK, left))
        if not chunk:
            raise TargetError(f"{what}: the source ended after {size - left} of {size} bytes")
        ws.write_channel(STDIN, chunk)
        left -= len(chunk)
        while frames.open and frames.take(0):
            pass
        if not frames.open:
            raise TargetError(f"{what}: the command ended after {size - left} of {size} bytes of its input"
                              + (f": {frames.stderr.decode('utf-8', 'replace').strip()[-400:]}" if frames.stderr else ""))
    if getattr(ws, "subprotocol", None) == "v5.channel.k8s.io":
        ws.close_channel(STDIN)


class _Frames:
    """The websocket's frames, one at a time: stdout to the sink, stderr's tail and the status kept."""

    def __init__(self, ws: Any, sink: Sink | None) -> None:
        self.ws, self.sink = ws, sink
        self.stderr, self.status = bytearray(), bytearray()
        self.open = True

    def take(self, wait: float) -> bool:
        """Handle one frame if one arrives within `wait` seconds; False when none did."""
        import select
        import ssl

        from websocket import ABNF, WebSocketException

        sock = self.ws.sock
        raw = getattr(sock, "sock", None)
        if raw is None or not sock.connected:
            self.open = False
            return False
        if not (isinstance(raw, ssl.SSLSocket) and raw.pending()):
            poller = select.poll()
            poller.register(raw, select.POLLIN)
            if not poller.poll(wait * 1000):
                return False
        try:
            opcode, frame = sock.recv_data_frame(True)
        except (WebSocketException, OSError):  # the connection dropped: the caller sees a short stream
            self.open = False
            return False
        if opcode == ABNF.OPCODE_CLOSE:
            self.open = False
            return True
        data = bytes(frame.data or b"") if opcode in (ABNF.OPCODE_BINARY, ABNF.OPCODE_TEXT) else b""
        if not data:
            return True
        channel, payload = data[0], data[1:]
        if channel == STDOUT and payload:
            if self.sink is not None:
                self.sink.write(payload)
        elif channel == STDERR:
            self.stderr += payload
            del self.stderr[:-ERROR_TAIL]
        elif channel == STATUS:
            self.status += payload
        return True
