"""The environment lock on a host: a directory made atomically with `mkdir`.

Layout on the host (`path` is e.g. /tmp/ajudaplay-web.lock):

    path/               mkdir succeeds for exactly one run: that run holds the lock
    path/owner.json     holder, run_id, acquired_at, expires_at (written tmp + mv)
    path/.mutex/        short critical section (mkdir again) for takeover/renew/release

Taking over an expired lock, renewing and releasing all run under `.mutex` and
compare the owner file with what the caller last saw, so two runs racing for
the same stale lock cannot both win, and a run whose lock expired and was
taken over cannot renew or delete the new holder's lock. Every operation is
one shell round trip. Times are the controller's epoch seconds.
"""

from __future__ import annotations

import json
import shlex
import time
from dataclasses import asdict

from ajudaplay.errors import LockHeld, LockInfo, TargetError
from ajudaplay.hosts.base import HostConnection
from ajudaplay.targets.base import LockHolder

OWNERLESS_GRACE = 30.0  # a lock dir without owner.json older than this was left by a crash
MUTEX_STALE = 30.0  # a .mutex older than this was left by a crash
POLL = 0.25  # seconds between attempts while waiting for a held lock

_MUTEX_SH = r"""
m="$L/.mutex"; n=0
until mkdir "$m" 2>/dev/null; do
  [ -d "$L" ] || { echo NOLOCK; exit 0; }
  n=$((n+1))
  if [ "$n" -gt 100 ]; then
    age=$(( $(date +%s) - $(stat -c %Y "$m" 2>/dev/null || date +%s) ))
    if [ "$age" -gt {stale} ]; then rmdir "$m" 2>/dev/null; n=0; continue; fi
    echo BUSY; exit 0
  fi
  sleep 0.02
done
cur=$(cat "$L/owner.json" 2>/dev/null)
""".replace("{stale}", str(int(MUTEX_STALE)))

_WRITE_OWNER_SH = r"""printf '%s' "$NEW" > "$L/owner.json.$$" && mv -f "$L/owner.json.$$" "$L/owner.json" """


class HostLock:
    """A lock per target on its host; `acquire` waits, then raises LockHeld naming the holder."""

    def __init__(self, host: HostConnection, path: str, target_name: str) -> None:
        self.host = host
        self.path = path.rstrip("/") or path
        self.target = target_name
        self._mine: str | None = None  # the exact owner.json text this run wrote
        self._ttl = 0.0
        self._holder: LockHolder | None = None

    # helpers ---------------------------------------------------------------
    def _sh(self, script: str, **values: str) -> list[str]:
        assigns = " ".join(f"{k}={shlex.quote(v)}" for k, v in {"L": self.path, **values}.items())
        result = self.host.run(f"{assigns}\n{script}")
        if result.rc != 0:
            raise TargetError(
                f"target {self.target!r}: lock {self.path}: {result.stderr.strip() or f'exit status {result.rc}'}"
            )
        return result.stdout.split("\n")

    def _owner_text(self, holder: LockHolder, now: float, ttl: float, acquired_at: float | None = None) -> str:
        info = LockInfo(holder.holder, holder.run_id, acquired_at or now, now + ttl, self.target)
        return json.dumps(asdict(info), sort_keys=True)

    def _parse(self, text: str) -> LockInfo | None:
        try:
            raw = json.loads(text)
            return LockInfo(
                holder=str(raw["holder"]),
                run_id=str(raw["run_id"]),
                acquired_at=float(raw["acquired_at"]),
                expires_at=float(raw["expires_at"]),
                target=str(raw.get("target") or self.target),
            )
        except (ValueError, KeyError, TypeError):
            return None

    # public API ------------------------------------------------------------
    def acquire(self, holder: LockHolder, ttl: float, wait: float) -> None:
        """Take the lock; take over an expired one; wait up to `wait` s, then raise LockHeld."""
        deadline = time.time() + max(0.0, wait)
        while True:
            now = time.time()
            new = self._owner_text(holder, now, ttl)
            lines = self._sh(
                f'if mkdir "$L" 2>/dev/null; then {_WRITE_OWNER_SH} && echo ACQUIRED; else\n'
                '  echo HELD; echo $(( $(date +%s) - $(stat -c %Y "$L" 2>/dev/null || date +%s) )); '
                'cat "$L/owner.json" 2>/dev/null; fi',
                NEW=new,
            )
            if lines[0] == "ACQUIRED":
                self._took(new, holder, ttl)
                return
            age = float(lines[1] or 0) if len(lines) > 1 and lines[1].lstrip("-").isdigit() else 0.0
            seen = "\n".join(lines[2:])
            info = self._parse(seen)
            if info is None and age > OWNERLESS_GRACE:
                info = LockInfo("unknown (crashed while locking)", "?", now - age, now - 1, self.target)
            if info is not None and info.expires_at <= now:
                if self._takeover(seen, new):
                    self._took(new, holder, ttl)
                    return
                continue  # someone else moved first: look again right away
            if info is None:  # being created this very moment by another run
                info = LockInfo("unknown (being acquired)", "?", now, now + OWNERLESS_GRACE, self.target)
            if info.run_id == holder.run_id:  # re-entrant: this run already holds it
                self._took(seen, holder, ttl)
                self.renew()
                return
            remaining = deadline - time.time()
            if remaining <= 0:
                raise LockHeld(self.target, info)
            time.sleep(min(POLL, remaining))

    def _took(self, text: str, holder: LockHolder, ttl: float) -> None:
        self._mine = text
        self._holder = holder
        self._ttl = ttl

    def _takeover(self, seen: str, new: str) -> bool:
        """Replace the expired owner `seen` with `new` under the mutex; True for the one winner."""
        lines = self._sh(
            _MUTEX_SH + f'if [ "$cur" = "$SEEN" ]; then {_WRITE_OWNER_SH} && echo WON; else echo LOST; fi\n'
            'rmdir "$m"',
            SEEN=seen,
            NEW=new,
        )
        if lines[0] == "NOLOCK":  # the stale holder released it meanwhile: plain mkdir next time
            return False
        return lines[0] == "WON"

    def renew(self) -> None:
        """Extend this run's lock by its ttl; raises LockHeld if another run took it over."""
        if self._mine is None or self._holder is None:
            return
        info = self._parse(self._mine)
        new = self._owner_text(self._holder, time.time(), self._ttl, info.acquired_at if info else None)
        lines = self._sh(
            _MUTEX_SH + f'if [ "$cur" = "$MINE" ]; then {_WRITE_OWNER_SH} && echo RENEWED; '
            'else echo LOST; echo "$cur"; fi\nrmdir "$m"',
            MINE=self._mine,
            NEW=new,
        )
        if lines[0] == "RENEWED":
            self._mine = new
            return
        if lines[0] == "BUSY":
            return  # try again at the next renewal tick
        other = self._parse("\n".join(lines[1:])) if lines[0] == "LOST" else None
        self._mine = None
        if other is not None:
            raise LockHeld(self.target, other)
        raise TargetError(f"target {self.target!r}: the lock {self.path} disappeared while this run held it")

    def release(self) -> None:
        """Remove the lock if (and only if) this run holds it; never raises for a missing lock."""
        if self._mine is None:
            return
        mine, self._mine = self._mine, None
        self._sh(
            _MUTEX_SH + 'if [ "$cur" = "$MINE" ]; then rm -rf "$L"; echo RELEASED; '
            'else rmdir "$m"; echo NOTMINE; fi',
            MINE=mine,
        )

    def read(self) -> LockInfo | None:
        """Who holds the lock now, or None."""
        lines = self._sh('cat "$L/owner.json" 2>/dev/null; true')
        return self._parse("\n".join(lines))

    def force_release(self) -> LockInfo | None:
        """Remove the lock whoever holds it (`ajudaplay unlock`); returns what was removed."""
        lines = self._sh('cat "$L/owner.json" 2>/dev/null; echo; rm -rf "$L"')
        self._mine = None
        return self._parse("\n".join(lines).strip())
