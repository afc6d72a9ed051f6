"""HostTarget (kind "host"): a plain machine reached through pyinfra, `@local` or SSH.

It offers only a shell/file connection (for command, shell, copy, template,
wait_for) and the environment lock (HostShell, Lockable); it is no ServiceOps,
so service actions raise NotApplicable.
The lock lives on the host at `connection.lock_path`, by default
`/tmp/ajudaplay-<target>.lock` (see ajudaplay/hosts/lock.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ajudaplay.errors import LockInfo, TargetUnreachable
from ajudaplay.locks import LockHolder
from ajudaplay.targets.base import HostShell, Lockable, Target

if TYPE_CHECKING:
    from ajudaplay.hosts.base import HostConnection
    from ajudaplay.hosts.lock import HostLock
    from ajudaplay.inventory.model import TargetSpec


def default_lock_path(target_name: str) -> str:
    """Where a host target's lock lives unless the inventory sets `lock_path`."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in target_name)
    return f"/tmp/ajudaplay-{safe}.lock"


class HostTarget(HostShell, Lockable, Target):
    """A machine with a shell: commands and files over one persistent connection."""

    kind = "host"

    def __init__(self, spec: TargetSpec) -> None:
        Target.__init__(self, spec)  # not super(): see Target
        self._conn: HostConnection | None = None
        self._lock: HostLock | None = None

    def open(self) -> None:
        """Connect once (pyinfra: @local or SSH); raises TargetUnreachable with the reason."""
        if self._conn is None:
            from ajudaplay.hosts.pyinfra_host import connect_host

            self._conn = connect_host(self.spec.connection, self.name)

    def close(self) -> None:
        """Disconnect; safe twice and after a failed open()."""
        conn, self._conn, self._lock = self._conn, None, None
        if conn is not None:
            conn.close()

    def host(self) -> HostConnection:
        """The connection, opened on first use."""
        if self._conn is None:
            self.open()
        if self._conn is None:  # pragma: no cover - open() raises instead
            raise TargetUnreachable(f"target {self.name!r}: not connected")
        return self._conn

    def lock_path(self) -> str:
        """The lock directory on the host: `lock_path` from the inventory or the default."""
        return str(self.spec.connection.get("lock_path") or default_lock_path(self.name))

    def _host_lock(self) -> HostLock:
        if self._lock is None:
            from ajudaplay.hosts.lock import HostLock

            self._lock = HostLock(self.host(), self.lock_path(), self.name)
        return self._lock

    def acquire_lock(self, holder: LockHolder, ttl: float, wait: float) -> None:
        """Take the host lock (mkdir on the host), waiting up to `wait` s; raises LockHeld."""
        self._host_lock().acquire(holder, ttl, wait)

    def renew_lock(self) -> None:
        """Extend this run's lock; raises LockLost if it is not this run's any more (taken over, removed)."""
        if self._lock is not None:
            self._lock.renew()

    def release_lock(self) -> None:
        """Release the lock if this run holds it."""
        if self._lock is not None and self._conn is not None:
            self._lock.release()

    def read_lock(self) -> LockInfo | None:
        return self._host_lock().read()

    def force_unlock(self) -> LockInfo | None:
        """Remove the lock whoever holds it; returns the removed holder."""
        return self._host_lock().force_release()
