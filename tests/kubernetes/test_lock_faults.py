"""The Lease lock (holder, expiry, races, unlock) and API faults mid-rollout, on the real control plane.

Leases are API objects: the simulated node (conftest.py `cluster`) is enough, no container runs.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from ajudaplay.errors import LockHeld, LockLost, TargetError
from ajudaplay.targets.base import LockHolder
from tests.kubernetes.conftest import Cluster, make_target, step

pytestmark = pytest.mark.kubernetes

ALICE = LockHolder("alice", "laptop", "run-a")
BOB = LockHolder("bob", "ci", "run-b")


def test_lease_names_the_holder_and_is_released(cluster: Cluster) -> None:
    a, b = make_target(cluster.kubeconfig, cluster.namespace), make_target(cluster.kubeconfig, cluster.namespace)
    a.acquire_lock(ALICE, ttl=60, wait=0)
    lease = cluster.get("lease", "ajudaplay-lock")["spec"]
    assert lease["holderIdentity"] == "alice@laptop run=run-a" and lease["leaseDurationSeconds"] == 60
    started = time.monotonic()
    with pytest.raises(LockHeld) as held:
        b.acquire_lock(BOB, ttl=60, wait=1.5)
    assert 1.0 <= time.monotonic() - started < 5
    assert held.value.info.holder == "alice@laptop" and held.value.info.run_id == "run-a"
    assert "alice@laptop (run run-a" in str(held.value)
    assert b.read_lock() is not None and b.read_lock().holder == "alice@laptop"  # type: ignore[union-attr]

    renew_before = lease["renewTime"]
    time.sleep(0.01)
    a.renew_lock()
    assert cluster.get("lease", "ajudaplay-lock")["spec"]["renewTime"] > renew_before

    b.release_lock()  # not ours: must not delete it
    assert cluster.kubectl("get", "lease", "ajudaplay-lock", check=False).returncode == 0
    a.release_lock()
    assert cluster.kubectl("get", "lease", "ajudaplay-lock", check=False).returncode != 0
    a.release_lock()  # twice is fine
    b.acquire_lock(BOB, ttl=60, wait=0)
    b.release_lock()


def test_second_run_waits_for_the_lease(cluster: Cluster) -> None:
    a, b = make_target(cluster.kubeconfig, cluster.namespace), make_target(cluster.kubeconfig, cluster.namespace)
    a.acquire_lock(ALICE, ttl=60, wait=0)
    threading.Timer(1.0, a.release_lock).start()
    b.acquire_lock(BOB, ttl=60, wait=10)
    assert cluster.get("lease", "ajudaplay-lock")["spec"]["holderIdentity"] == "bob@ci run=run-b"
    b.release_lock()


def test_expired_lease_is_taken_over_and_unlock_removes_it(cluster: Cluster) -> None:
    a, b = make_target(cluster.kubeconfig, cluster.namespace), make_target(cluster.kubeconfig, cluster.namespace)
    a.acquire_lock(ALICE, ttl=1, wait=0)  # a crashed run: never released
    started = time.monotonic()
    b.acquire_lock(BOB, ttl=60, wait=5)  # expired once b has seen it unchanged for its 1 s
    assert time.monotonic() - started >= 0.9
    spec = cluster.get("lease", "ajudaplay-lock")["spec"]
    assert spec["holderIdentity"] == "bob@ci run=run-b" and spec["leaseTransitions"] == 1
    with pytest.raises(LockLost, match="taken over by bob@ci"):  # the old holder notices it lost the Lease
        a.renew_lock()
    a.renew_lock()  # and does not steal it back
    assert cluster.get("lease", "ajudaplay-lock")["spec"]["holderIdentity"] == "bob@ci run=run-b"
    removed = make_target(cluster.kubeconfig, cluster.namespace).force_unlock()
    assert removed is not None and removed.holder == "bob@ci"
    assert cluster.kubectl("get", "lease", "ajudaplay-lock", check=False).returncode != 0


def test_racing_runs_cannot_both_win(cluster: Cluster) -> None:
    targets = [make_target(cluster.kubeconfig, cluster.namespace) for _ in range(6)]
    winners: list[int] = []
    losers: list[int] = []
    barrier = threading.Barrier(len(targets))

    def run(i: int) -> None:
        barrier.wait()
        try:
            targets[i].acquire_lock(LockHolder(f"user{i}", "h", f"run-{i}"), ttl=60, wait=0)
            winners.append(i)
        except LockHeld:
            losers.append(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(targets))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(winners) == 1 and len(losers) == len(targets) - 1
    assert cluster.get("lease", "ajudaplay-lock")["spec"]["holderIdentity"] == f"user{winners[0]}@h run=run-{winners[0]}"


def test_transient_500s_are_retried(cluster: Cluster, fault_proxy: Any) -> None:
    cluster.deployment("api", "img:v1")
    target = make_target(fault_proxy.kubeconfig, cluster.namespace)
    fault_proxy.error(500, count=2, match=r"^GET /apis/apps/v1/namespaces/[^/]+/deployments/api$")
    result = target.deploy(step(), "api", "img:v2", atomic=False)
    assert result.changed and not result.failed
    assert fault_proxy.count(r"^GET /apis/apps/v1/namespaces/[^/]+/deployments/api$") == 3


def test_persistent_500s_mid_rollout_fail_clearly_and_release_the_lock(cluster: Cluster, fault_proxy: Any) -> None:
    cluster.deployment("api", "img:v1")
    target = make_target(fault_proxy.kubeconfig, cluster.namespace)
    target.acquire_lock(ALICE, ttl=60, wait=0)

    def fail_from_now_on(message: str) -> None:
        if "waiting for the rollout" in message:  # the PATCH went through: the API fails mid-rollout
            fault_proxy.error(500, count=None, match=r"^GET /apis/apps/v1/namespaces/[^/]+/deployments")

    started = time.monotonic()
    try:
        with pytest.raises(TargetError, match="injected HTTP 500") as err:
            target.restart(step(timeout=60, log=fail_from_now_on), "api")
        assert time.monotonic() - started < 15
        assert "Traceback" not in str(err.value)
    finally:
        fault_proxy.pass_through()
        target.release_lock()
    assert cluster.kubectl("get", "lease", "ajudaplay-lock", check=False).returncode != 0


def test_stalled_watch_mid_rollout_ends_within_the_timeout(cluster: Cluster, fault_proxy: Any) -> None:
    cluster.deployment("api", "img:v1")
    target = make_target(fault_proxy.kubeconfig, cluster.namespace, request_timeout=3)
    target.acquire_lock(ALICE, ttl=60, wait=0)
    fault_proxy.stall(60, match=r"watch=")
    started = time.monotonic()
    try:
        result = target.deploy(step(timeout=4), "api", "img:v2", atomic=True)
    finally:
        fault_proxy.pass_through()
        target.release_lock()
    assert result.failed and result.rolled_back and "timed out after 4s" in result.msg, result.msg
    assert "could not be confirmed" in result.msg
    assert time.monotonic() - started < 20
    assert cluster.get("deployment", "api")["spec"]["template"]["spec"]["containers"][0]["image"] == "img:v1"
    assert cluster.kubectl("get", "lease", "ajudaplay-lock", check=False).returncode != 0


def test_cancel_stops_the_wait_promptly(cluster: Cluster) -> None:
    from ajudaplay.errors import Interrupted

    cluster.deployment("api", "img:v1", deadline=600)
    target = make_target(cluster.kubeconfig, cluster.namespace)
    ctx = step(timeout=120)
    threading.Timer(1.0, ctx.cancel.set).start()
    started = time.monotonic()
    with pytest.raises(Interrupted):
        target.deploy(ctx, "api", "img:bad", atomic=False)
    assert time.monotonic() - started < 4
