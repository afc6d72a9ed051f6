"""The environment lock on a host: a directory made atomically with `mkdir`.

Layout on the host (`path` is e.g. /tmp/ajudaplay-web.lock):

    path/               mkdir succeeds for exactly one run: that run holds the lock
    path/owner.json     holder, run_id, ttl, owner (hostname, pid), acquired_at/expires_at (written tmp + mv)
    path/.mutex/        short critical section (mkdir again) for takeover/renew/release

Taking over an expired lock, renewing and releasing all run under `.mutex` and
compare the owner file with what the caller last saw, so two runs racing for
the same stale lock cannot both win, and a run whose lock expired and was
taken over cannot renew or delete the new holder's lock. Every operation is
one shell round trip, bounded in time.

Expiry reads one clock only, the host's: the lock is expired when owner.json
was last written (its mtime) more than `ttl` seconds ago by the host's `date`.
Two operators' machines may disagree about the time; the host agrees with
itself. A lock whose owner process ran on this machine and is gone is stale
at once (ajudaplay/owner.py). acquired_at/expires_at are the writer's clock,
kept for people and for locks written by older versions (no `ttl`).
"""

from __future__ import annotations

import json
import shlex
import time
from dataclasses import dataclass

from ajudaplay.errors import LockHeld, LockInfo, LockLost, TargetError
from ajudaplay.hosts.base import HostConnection
from ajudaplay.owner import ProcessOwner
from ajudaplay.locks import LockHolder

OWNERLESS_GRACE = 30.0  # a lock dir without owner.json older than this was left by a crash
MUTEX_STALE = 30.0  # a .mutex older than this was left by a crash
POLL = 0.25  # seconds between attempts while waiting for a held lock
OP_TIMEOUT = 20.0  # one lock round trip (acquire, renew, read) never takes longer
RELEASE_TIMEOUT = 8.0  # releasing on exit: a host that stopped answering must not hold the exit

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

# The host's clock, sub-second where date/stat can (GNU, BusyBox falls back to seconds).
_OBSERVE_SH = r"""
hostnow=$(date +%s.%N 2>/dev/null); case "$hostnow" in *[!0-9.]*|"") hostnow=$(date +%s);; esac
mt() { t=$(stat -c %.9Y "$1" 2>/dev/null); case "$t" in *[!0-9.]*|"") t=$(stat -c %Y "$1" 2>/dev/null);; esac; echo "$t"; }
echo "$hostnow"; mt "$L"; mt "$L/owner.json"; cat "$L/owner.json" 2>/dev/null
"""


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class _Seen:
    """What a look at the lock found: the owner file's text and its age by the host's clock."""

    text: str
    info: LockInfo | None
    ttl: float | None  # None: written by an older version, expiry by expires_at
    owner: ProcessOwner | None
    age: float | None  # seconds since owner.json was written, host clock
    dir_age: float | None

    def stale(self, now: float) -> bool:
        """Expired by the host's clock, or its owner process is gone from this machine."""
        if self.info is None:
            return self.dir_age is not None and self.dir_age > OWNERLESS_GRACE
        if self.owner is not None and self.owner.is_gone():
            return True
        if self.ttl is not None and self.age is not None:
            return self.age >= self.ttl
        return self.info.expires_at <= now

    def shown(self, now: float, target: str) -> LockInfo:
        """The holder, with its expiry converted to this machine's clock for messages."""
        if self.info is None:
            if self.dir_age is not None and self.dir_age > OWNERLESS_GRACE:
                return LockInfo("unknown (crashed while locking)", "?", now - self.dir_age, now - 1, target)
            return LockInfo("unknown (being acquired)", "?", now, now + OWNERLESS_GRACE, target)
        info = self.info
        if self.ttl is not None and self.age is not None:
            info = LockInfo(info.holder, info.run_id, info.acquired_at, now + self.ttl - self.age, info.target)
        return info


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
    def _sh(self, script: str, timeout: float = OP_TIMEOUT, **values: str) -> list[str]:
        assigns = " ".join(f"{k}={shlex.quote(v)}" for k, v in {"L": self.path, **values}.items())
        result = self.host.run(f"{assigns}\n{script}", timeout=timeout)
        if result.rc != 0:
            raise TargetError(
                f"target {self.target!r}: lock {self.path}: {result.stderr.strip() or f'exit status {result.rc}'}",
                retryable=True,
            )
        return result.stdout.split("\n")

    def _owner_text(self, holder: LockHolder, now: float, ttl: float, acquired_at: float | None = None) -> str:
        record = {
            "holder": holder.holder,
            "run_id": holder.run_id,
            "acquired_at": acquired_at or now,
            "expires_at": now + ttl,
            "target": self.target,
            "ttl": ttl,
            "owner": ProcessOwner.current().to_json(),
        }
        return json.dumps(record, sort_keys=True)

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

    def _seen(self, lines: list[str]) -> _Seen:
        """Parse _OBSERVE_SH's output: host now, dir mtime, owner mtime, owner.json."""
        padded = lines + [""] * 3
        host_now, dir_mtime, owner_mtime = (_number(v) for v in padded[:3])
        text = "\n".join(lines[3:]).rstrip("\n")
        info = self._parse(text)
        ttl: float | None = None
        owner: ProcessOwner | None = None
        if info is not None:
            raw = json.loads(text)
            ttl = _number(str(raw.get("ttl"))) if raw.get("ttl") is not None else None
            owner = ProcessOwner.from_json(raw.get("owner"))
        age = host_now - owner_mtime if host_now is not None and owner_mtime is not None else None
        dir_age = host_now - dir_mtime if host_now is not None and dir_mtime is not None else None
        return _Seen(text, info, ttl, owner, age, dir_age)

    # public API ------------------------------------------------------------
    def acquire(self, holder: LockHolder, ttl: float, wait: float) -> None:
        """Take the lock; take over a stale one; wait up to `wait` s, then raise LockHeld."""
        deadline = time.monotonic() + max(0.0, wait)
        while True:
            now = time.time()
            new = self._owner_text(holder, now, ttl)
            lines = self._sh(
                f'if mkdir "$L" 2>/dev/null; then {_WRITE_OWNER_SH} && echo ACQUIRED; else\n'
                f"echo HELD\n{_OBSERVE_SH}\nfi",
                NEW=new,
            )
            if lines[0] == "ACQUIRED":
                self._took(new, holder, ttl)
                return
            seen = self._seen(lines[1:])
            if seen.stale(now):
                if self._takeover(seen.text, new):
                    self._took(new, holder, ttl)
                    return
                continue  # someone else moved first: look again right away
            info = seen.shown(now, self.target)
            if seen.info is not None and info.run_id == holder.run_id:  # re-entrant: this run holds it
                self._took(seen.text, holder, ttl)
                self.renew()
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LockHeld(self.target, info)
            time.sleep(min(POLL, remaining))

    def _took(self, text: str, holder: LockHolder, ttl: float) -> None:
        self._mine = text
        self._holder = holder
        self._ttl = ttl

    def _takeover(self, seen: str, new: str) -> bool:
        """Replace the stale owner `seen` with `new` under the mutex; True for the one winner."""
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
        """Extend this run's lock by its ttl.

        Raises LockLost when the lock is not this run's any more (taken over,
        removed by `ajudaplay unlock`, owner file edited); TargetError for a
        round trip that failed (the caller retries until its renew deadline).
        """
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
            raise TargetError(f"target {self.target!r}: lock {self.path}: busy, renewal not done", retryable=True)
        self._mine = None
        if lines[0] == "NOLOCK":
            raise LockLost(self.target, f"the lock {self.path} was removed (ajudaplay unlock?)")
        other = self._parse("\n".join(lines[1:]))
        if other is not None:
            raise LockLost(self.target, f"taken over by {other.holder} (run {other.run_id})", other)
        raise LockLost(self.target, f"the owner file of {self.path} was removed or changed")

    def release(self, timeout: float = RELEASE_TIMEOUT) -> None:
        """Remove the lock if (and only if) this run holds it; at most `timeout` s; never raises for a missing lock."""
        if self._mine is None:
            return
        mine, self._mine = self._mine, None
        self._sh(
            _MUTEX_SH + 'if [ "$cur" = "$MINE" ]; then rm -rf "$L"; echo RELEASED; '
            'else rmdir "$m"; echo NOTMINE; fi',
            timeout=timeout,
            MINE=mine,
        )

    def read(self) -> LockInfo | None:
        """Who holds the lock now (expiry on this machine's clock), or None."""
        seen = self._seen(self._sh(f'[ -d "$L" ] || exit 0\n{_OBSERVE_SH}'))
        return None if seen.info is None else seen.shown(time.time(), self.target)

    def force_release(self) -> LockInfo | None:
        """Remove the lock whoever holds it (`ajudaplay unlock`); returns what was removed."""
        lines = self._sh('cat "$L/owner.json" 2>/dev/null; echo; rm -rf "$L"')
        self._mine = None
        return self._parse("\n".join(lines).strip())
