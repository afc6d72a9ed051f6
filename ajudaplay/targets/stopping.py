"""The script that stops, inside a container, every process an exec started (both modes).

Like hosts/stopping.py's remote_stop_script (SIGTERM, then SIGKILL after
KILL_GRACE, to every process holding `AJUDAPLAY_CMD=<marker>` in its
environment), but for the minimal userlands of images: busybox `grep -F`
stops comparing at the first NUL, and /proc/PID/environ is NUL-separated,
so each environment is turned into lines with `tr` before it is searched.
Needs sh, tr and grep (busybox, coreutils).
"""

from __future__ import annotations

from ajudaplay.hosts.base import MARKER_VAR
from ajudaplay.hosts.stopping import KILL_GRACE


def container_stop_script(marker: str) -> str:
    """POSIX sh that stops every process holding `marker`; exits 0 when none is left, 1 otherwise."""
    return (
        f"m='{MARKER_VAR}={marker}'\n"
        "pids() { for f in /proc/[0-9]*/environ; do d=${f%/environ}; "
        "tr '\\000' '\\n' < \"$f\" 2>/dev/null | grep -qxF \"$m\" && echo ${d#/proc/}; done; }\n"
        "p=$(pids); [ -z \"$p\" ] && sleep 0.2 && p=$(pids); [ -z \"$p\" ] && exit 0\n"
        "for sig in TERM KILL; do\n"
        "  kill -$sig $p 2>/dev/null; i=0\n"
        f"  while [ $i -lt {int(KILL_GRACE / 0.1)} ]; do sleep 0.1; p=$(pids); [ -z \"$p\" ] && exit 0; i=$((i+1)); done\n"
        "done\n"
        "exit 1\n"
    )
