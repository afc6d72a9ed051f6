"""Stopping a Compose `exec` in the container, not only its client.

Killing `docker compose exec` (what the host connection does on Ctrl-C or a
timeout) leaves the process it started in the container running: the
engine's exec session does not end with its client. So the command gets
`AJUDAPLAY_CMD=<marker>` in its environment (`exec -e`, inherited by all it
starts), and stopping it runs the stop script SSH hosts use (hosts/stopping.py,
busybox-safe) in the container with `docker exec`: SIGTERM, then SIGKILL, to every process
holding the marker. That needs `sh`, `tr` and `grep` in the image; without
them the step says the command may still run.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from ajudaplay.errors import TargetError
from ajudaplay.hosts.base import MARKER_VAR
from ajudaplay.hosts.stopping import KILL_GRACE, new_marker, remote_stop_script

if TYPE_CHECKING:
    from ajudaplay.hosts.base import HostConnection

STOP_TIMEOUT = 2 * KILL_GRACE + 15


def env_args() -> tuple[str, list[str]]:
    """A fresh marker and the `exec` options that put it in the command's environment."""
    marker = new_marker()
    return marker, ["-e", f"{MARKER_VAR}={marker}"]


def stop(host: HostConnection, container_id: str, marker: str) -> bool:
    """Stop what the marked exec started in the container; True when nothing of it is left."""
    command = f"docker exec {shlex.quote(container_id)} sh -c {shlex.quote(remote_stop_script(marker))}"
    try:
        return host.run(command, timeout=STOP_TIMEOUT).ok
    except TargetError:
        return False


def outcome(stopped: bool) -> str:
    return ("the command was stopped in the container" if stopped
            else "the command could not be confirmed stopped in the container (does the image have sh?)")
