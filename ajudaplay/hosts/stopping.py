"""Stop a command and everything it started, locally or on an SSH host.

A local command runs in a process group of its own and an SSH command in the
session sshd made for it, but a child that calls setsid() or daemonizes
leaves both. It keeps its environment, though: a command that may have to be
stopped gets `AJUDAPLAY_CMD=<random>` there (hosts/base.py MARKER_VAR), and
stopping it signals every process whose environment holds that marker, the
way Jenkins' ProcessTreeKiller finds a build's strays by its BUILD_ID:
SIGTERM first, SIGKILL for whatever is left after KILL_GRACE seconds.
Linux /proc on both sides; where there is none only the process group is
reached (local) or nothing but the channel is closed (SSH).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid

from ajudaplay.errors import Interrupted
from ajudaplay.hosts.base import MARKER_VAR, CommandResult

KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL
POLL = 0.05
TIMEOUT_RC = 124  # what coreutils `timeout` returns; also used when we abandon a command


def refuse_cancelled(name: str, cancel: threading.Event | None) -> None:
    """A step that was told to stop starts no new command."""
    if cancel is not None and cancel.is_set():
        raise Interrupted(f"{name}: the step was asked to stop; no further command is started")


def stopped_message(name: str, stopped: bool) -> str:
    """What Interrupted says after a cancelled command: stopped, or maybe not entirely."""
    if stopped:
        return f"{name}: the running command was stopped"
    return f"{name}: the running command was asked to stop but some of its processes may still run"


def timed_out(command: str, timeout: float, stdout: str, stderr: str, started: float) -> CommandResult:
    """The result of a command stopped at its timeout: rc 124 like coreutils `timeout`, and a note."""
    note = f"ajudaplay: command timed out after {timeout:g}s and was stopped"
    return CommandResult(command, TIMEOUT_RC, stdout, (stderr + "\n" + note).lstrip("\n"), time.monotonic() - started)


def decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def new_marker() -> str:
    """A value no other process's environment holds."""
    return uuid.uuid4().hex


def survivors(pgid: int, marker: str | None) -> list[int]:
    """Live (not zombie) local processes in group `pgid` or holding MARKER_VAR=marker in their environment."""
    needle = f"{MARKER_VAR}={marker}".encode() if marker else None
    try:
        entries = os.listdir("/proc")
    except OSError:  # no /proc: the group is all we can see
        return [pgid] if _group_signalable(pgid) else []
    found = []
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
            if fields[0] == b"Z":  # exited, waiting for its parent to reap it
                continue
            if int(fields[2]) == pgid:
                found.append(int(name))
                continue
            if needle is not None:
                with open(f"/proc/{name}/environ", "rb") as handle:
                    if needle in handle.read().split(b"\0"):
                        found.append(int(name))
        except (OSError, IndexError, ValueError):  # gone meanwhile, or another user's
            continue
    return found


def stop_local(proc: subprocess.Popen[bytes], marker: str | None) -> bool:
    """SIGTERM, then SIGKILL, the command's process group and its marked strays; True when none is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        _signal(proc.pid, survivors(proc.pid, marker), sig)
        deadline = time.monotonic() + KILL_GRACE
        while True:
            proc.poll()  # reap the leader, our own child
            if not survivors(proc.pid, marker):
                return True
            if time.monotonic() >= deadline:
                break
            time.sleep(POLL)
    return False


def _signal(pgid: int, pids: list[int], sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _group_signalable(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remote_stop_script(marker: str) -> str:
    """POSIX sh (dash, busybox) that stops every process holding `marker`; exits 0 when none is left.

    Used on SSH hosts and inside containers (docker exec, pods/exec). It runs
    on a channel of its own, with no marker in its own environment. Each
    /proc/PID/environ is NUL-separated: GNU grep searches them all in one
    process, but busybox `grep -F` stops comparing at the first NUL, so where
    grep cannot see past a NUL each environment is turned into lines with `tr`
    first (one tr and grep per process: slower, so only there). A second look
    after 0.2 s covers a command whose shell had not forked yet.
    """
    return (
        f"m='{MARKER_VAR}={marker}'\n"
        "fast=0; printf 'x\\000%s\\n' \"$m\" | grep -qF \"$m\" 2>/dev/null && fast=1\n"
        "pids() { if [ $fast = 1 ]; then grep -lsF \"$m\" /proc/[0-9]*/environ 2>/dev/null"
        " | sed -n 's,^/proc/\\([0-9]*\\)/environ$,\\1,p'; else for f in /proc/[0-9]*/environ; do d=${f%/environ}; "
        "tr '\\000' '\\n' < \"$f\" 2>/dev/null | grep -qxF \"$m\" && echo ${d#/proc/}; done; fi; }\n"
        "p=$(pids); [ -z \"$p\" ] && sleep 0.2 && p=$(pids); [ -z \"$p\" ] && exit 0\n"
        "for sig in TERM KILL; do\n"
        "  kill -$sig $p 2>/dev/null; i=0\n"
        f"  while [ $i -lt {int(KILL_GRACE / 0.1)} ]; do sleep 0.1; p=$(pids); [ -z \"$p\" ] && exit 0; i=$((i+1)); done\n"
        "done\n"
        "exit 1\n"
    )
