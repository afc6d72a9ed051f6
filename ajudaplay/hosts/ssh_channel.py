"""Reading one paramiko channel to its end, without a helper thread (commands and file writes)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

STDERR_POLL = 0.05  # seconds of stdout silence after which buffered stderr is drained


def read_channel(
    channel: Any, deadline_after: float | None, cancel: threading.Event | None = None,
) -> tuple[bytes, bytes, bool]:
    """Drain stdout and stderr; False when the deadline passed or `cancel` was set.

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
