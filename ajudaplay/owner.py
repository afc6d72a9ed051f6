"""Which process on which machine owns a lock or a journaled run, and whether it is gone.

A lock or a `running` journal row records `ProcessOwner.current()`. Another
process can then tell "that process is provably dead" (same machine: same
hostname, same kernel boot and PID namespace; the pid no longer exists or now
belongs to a process started at another time) from "I cannot know" (another
machine, another container, a record without an owner). Only the first makes
a lock stale before its TTL; everything else waits for the TTL.
"""

from __future__ import annotations

import os
import socket
from dataclasses import asdict, dataclass
from typing import Any


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def _machine() -> str:
    """This kernel boot and PID namespace: pids are comparable only within both ("" off Linux)."""
    boot = _read("/proc/sys/kernel/random/boot_id")
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return f"{boot}/{namespace}" if boot else ""


def _started(pid: int) -> str:
    """The process's start time in clock ticks since boot (/proc), "" when unknown: tells a reused pid."""
    stat = _read(f"/proc/{pid}/stat")
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else ""


@dataclass(frozen=True)
class ProcessOwner:
    """hostname + pid, plus what makes the pid meaningful (machine) and unique (started)."""

    hostname: str
    pid: int
    machine: str = ""
    started: str = ""

    @classmethod
    def current(cls) -> ProcessOwner:
        pid = os.getpid()
        return cls(socket.gethostname(), pid, _machine(), _started(pid))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: Any) -> ProcessOwner | None:
        """Parse a recorded owner; None for anything malformed (old records have none)."""
        if not isinstance(value, dict):
            return None
        try:
            pid = int(value["pid"])
            return cls(str(value["hostname"]), pid, str(value.get("machine") or ""), str(value.get("started") or ""))
        except (KeyError, TypeError, ValueError):
            return None

    def describe(self) -> str:
        return f"pid {self.pid} on {self.hostname}"

    def on_this_machine(self) -> bool:
        """Same hostname and, when both sides know it, the same boot and PID namespace."""
        here = ProcessOwner.current()
        if self.hostname != here.hostname:
            return False
        return not (self.machine and here.machine) or self.machine == here.machine

    def is_gone(self) -> bool:
        """True only when this owner is on this machine and its process no longer exists."""
        if self.pid <= 0 or not self.on_this_machine():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # exists, belongs to another user
            pass
        except OSError:
            return False
        if _is_zombie(self.pid):  # killed, not yet reaped by its parent
            return True
        if self.started and self.machine:
            current = _started(self.pid)
            return bool(current) and current != self.started  # the pid was reused
        return False


def _is_zombie(pid: int) -> bool:
    stat = _read(f"/proc/{pid}/stat")
    fields = stat.rsplit(")", 1)[-1].split()
    return bool(fields) and fields[0] in ("Z", "X")
