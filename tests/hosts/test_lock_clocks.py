"""The host lock's expiry reads the host's clock only, never compares the writer's with ours; a lock whose
owner process on this machine is gone is stale at once. @local and real SSH."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import uuid
from typing import Any, Iterator

import pytest

from ajudaplay.errors import LockHeld
from ajudaplay.hosts.lock import HostLock
from ajudaplay.targets.base import LockHolder
from ajudaplay.targets.host import HostTarget

BOB = LockHolder("bob", "ci", "run-b")


@pytest.fixture
def lock_path(target: HostTarget) -> Iterator[str]:
    path = f"/tmp/ajudaplay-clocktest-{uuid.uuid4().hex[:10]}.lock"
    yield path
    target.host().run(f"rm -rf {path}")


def _leave(target: HostTarget, path: str, skew: float, ttl: float | None, age: float = 0,
           owner: dict[str, Any] | None = None) -> None:
    """owner.json as carol's run left it: her clock `skew` s off ours, written `age` s ago by the host's clock."""
    now = time.time() + skew
    record: dict[str, Any] = {"holder": "carol@skewed", "run_id": "run-c", "acquired_at": now - 60,
                              "expires_at": now + (ttl or 60), "target": "web"}
    if ttl is not None:
        record["ttl"] = ttl
    if owner is not None:
        record["owner"] = owner
    text = json.dumps(record).replace("'", "")
    touch = f" && touch -d @{int(time.time() - age)} {path}/owner.json" if age else ""
    assert target.host().run(f"mkdir -p {path} && printf '%s' '{text}' > {path}/owner.json{touch}").rc == 0


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_writer_clock_far_behind_does_not_make_a_fresh_lock_expired(target: HostTarget, lock_path: str) -> None:
    _leave(target, lock_path, skew=-86400, ttl=60)  # by carol's expires_at it ended a day ago
    with pytest.raises(LockHeld) as held:
        HostLock(target.host(), lock_path, "web").acquire(BOB, ttl=60, wait=0)
    assert held.value.info.holder == "carol@skewed"
    assert held.value.info.expires_at > time.time() + 50  # on our clock: written just now, 60 s ttl


def test_a_writer_clock_far_ahead_does_not_keep_a_dead_lock(target: HostTarget, lock_path: str) -> None:
    _leave(target, lock_path, skew=86400, ttl=60, age=120)  # by expires_at it holds for a day more
    lock = HostLock(target.host(), lock_path, "web")
    lock.acquire(BOB, ttl=60, wait=0)
    assert lock.read() is not None and lock.read().run_id == "run-b"  # type: ignore[union-attr]
    lock.release()


def test_an_owner_process_gone_from_this_machine_makes_the_lock_stale_at_once(target: HostTarget, lock_path: str) -> None:
    from ajudaplay.owner import ProcessOwner

    here = ProcessOwner.current()
    _leave(target, lock_path, skew=0, ttl=900, owner={**here.to_json(), "pid": _dead_pid(), "started": ""})
    lock = HostLock(target.host(), lock_path, "web")
    lock.acquire(BOB, ttl=60, wait=0)
    written = json.loads(target.host().run(f"cat {lock_path}/owner.json").stdout)
    assert written["run_id"] == "run-b" and written["ttl"] == 60
    assert written["owner"]["pid"] == here.pid and written["owner"]["hostname"] == socket.gethostname()
    lock.release()


def test_an_owner_on_another_machine_waits_for_the_ttl(target: HostTarget, lock_path: str) -> None:
    elsewhere = {"hostname": "some-other-laptop", "pid": _dead_pid(), "machine": "", "started": ""}
    _leave(target, lock_path, skew=0, ttl=900, owner=elsewhere)
    with pytest.raises(LockHeld, match="carol@skewed"):
        HostLock(target.host(), lock_path, "web").acquire(BOB, ttl=60, wait=0.5)


def test_a_lock_written_by_an_older_version_still_expires_by_its_expires_at(target: HostTarget, lock_path: str) -> None:
    _leave(target, lock_path, skew=-120, ttl=None)  # no ttl, no owner: expired 60 s ago by expires_at
    lock = HostLock(target.host(), lock_path, "web")
    lock.acquire(BOB, ttl=60, wait=0)
    lock.release()
