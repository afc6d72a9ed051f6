"""The host lock: one holder at a time, named when refused; stale locks taken over by exactly one run."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Iterator

import pytest

from ajudaplay.errors import LockHeld, LockLost
from ajudaplay.hosts.base import HostConnection
from ajudaplay.hosts.lock import HostLock
from ajudaplay.targets.base import LockHolder
from ajudaplay.targets.host import HostTarget


def holder(n: int) -> LockHolder:
    return LockHolder(user=f"op{n}", hostname="laptop", run_id=f"run-{n}")


@pytest.fixture
def lock_path(target: HostTarget) -> Iterator[str]:
    path = f"/tmp/ajudaplay-locktest-{uuid.uuid4().hex[:10]}.lock"
    yield path
    target.host().run(f"rm -rf {path}")


def test_second_acquirer_fails_naming_the_holder(target: HostTarget, lock_path: str) -> None:
    first = HostLock(target.host(), lock_path, "web")
    first.acquire(holder(1), ttl=60, wait=0)
    second = HostLock(target.host(), lock_path, "web")
    started = time.monotonic()
    with pytest.raises(LockHeld) as info:
        second.acquire(holder(2), ttl=60, wait=0.6)
    assert time.monotonic() - started >= 0.5  # it waited before giving up
    assert info.value.info.holder == "op1@laptop" and info.value.info.run_id == "run-1"
    assert "locked by op1@laptop (run run-1" in str(info.value)
    second.release()  # not the holder: must not remove the lock
    assert first.read() is not None and first.read().run_id == "run-1"  # type: ignore[union-attr]
    first.release()
    assert first.read() is None
    second.acquire(holder(2), ttl=60, wait=0)
    assert second.read().holder == "op2@laptop"  # type: ignore[union-attr]
    second.release()


def test_waiter_gets_the_lock_when_released(target: HostTarget, lock_path: str) -> None:
    first = HostLock(target.host(), lock_path, "web")
    first.acquire(holder(1), ttl=60, wait=0)
    threading.Timer(0.5, first.release).start()
    second = HostLock(target.host(), lock_path, "web")
    second.acquire(holder(2), ttl=60, wait=5)
    assert second.read().run_id == "run-2"  # type: ignore[union-attr]
    second.release()


def test_stale_lock_is_taken_over_and_old_holder_cannot_renew_or_release(target: HostTarget, lock_path: str) -> None:
    old = HostLock(target.host(), lock_path, "web")
    old.acquire(holder(1), ttl=0.3, wait=0)
    time.sleep(0.4)
    new = HostLock(target.host(), lock_path, "web")
    new.acquire(holder(2), ttl=60, wait=0)
    assert new.read().run_id == "run-2"  # type: ignore[union-attr]
    with pytest.raises(LockLost, match="taken over by op2@laptop") as lost:
        old.renew()
    assert lost.value.info is not None and lost.value.info.run_id == "run-2"
    old.release()
    assert new.read().run_id == "run-2"  # type: ignore[union-attr]
    new.renew()
    info = new.read()
    assert info is not None and info.expires_at > time.time() + 50
    new.release()


def test_racing_takeover_of_a_stale_lock_has_exactly_one_winner(target: HostTarget, lock_path: str) -> None:
    stale = HostLock(target.host(), lock_path, "web")
    stale.acquire(holder(0), ttl=0.2, wait=0)
    time.sleep(0.3)
    winners: list[int] = []
    losers: list[str] = []
    barrier = threading.Barrier(8)

    def contender(n: int, conn: HostConnection) -> None:
        lock = HostLock(conn, lock_path, "web")
        barrier.wait()
        try:
            lock.acquire(holder(n), ttl=60, wait=0)
            winners.append(n)
        except LockHeld as exc:
            losers.append(exc.info.run_id)

    threads = [threading.Thread(target=contender, args=(n, target.host())) for n in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1, (winners, losers)
    assert set(losers) == {f"run-{winners[0]}"}
    assert HostLock(target.host(), lock_path, "web").read().run_id == f"run-{winners[0]}"  # type: ignore[union-attr]


def test_force_release_returns_the_holder(target: HostTarget, lock_path: str) -> None:
    lock = HostLock(target.host(), lock_path, "web")
    lock.acquire(holder(1), ttl=60, wait=0)
    removed = HostLock(target.host(), lock_path, "web").force_release()
    assert removed is not None and removed.holder == "op1@laptop"
    assert lock.read() is None
    assert HostLock(target.host(), lock_path, "web").force_release() is None


def test_target_lock_uses_lock_path_and_default(target: HostTarget, lock_path: str) -> None:
    from ajudaplay.targets.host import default_lock_path

    assert default_lock_path("web 1") == "/tmp/ajudaplay-web_1.lock"
    target.spec.connection["lock_path"] = lock_path
    target.acquire_lock(holder(1), ttl=60, wait=0)
    assert target.host().run(f"test -f {lock_path}/owner.json").rc == 0
    assert target.read_lock().run_id == "run-1"  # type: ignore[union-attr]
    target.renew_lock()
    target.release_lock()
    assert target.host().run(f"test -e {lock_path}").rc != 0
    del target.spec.connection["lock_path"]
