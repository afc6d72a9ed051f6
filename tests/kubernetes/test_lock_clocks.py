"""Lease expiry as client-go's leader election judges it: by the waiter's own clock, never the holder's.

Leases are written with kubectl (the independent client) as an operator with a
skewed clock would leave them, against the real kube-apiserver.
Leases are API objects: the simulated node (conftest.py `cluster`) is enough, no container runs.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import threading
import time

import pytest

from ajudaplay.errors import LockHeld
from ajudaplay.targets.base import LockHolder
from tests.kubernetes.conftest import Cluster, make_target

pytestmark = pytest.mark.kubernetes

BOB = LockHolder("bob", "ci", "run-b")
LEASE = "ajudaplay-lock"


def _stamp(offset: float) -> str:
    moment = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=offset)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _lease(cluster: Cluster, renew_offset: float, duration: int, annotations: dict[str, str] | None = None) -> None:
    """A Lease held by carol, whose clock is `renew_offset` seconds off ours, created with kubectl."""
    cluster.apply({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": LEASE, "annotations": annotations or {}},
        "spec": {"holderIdentity": "carol@skewed run=run-c", "leaseDurationSeconds": duration,
                 "acquireTime": _stamp(renew_offset - 60), "renewTime": _stamp(renew_offset),
                 "leaseTransitions": 0},
    })


def _holder(cluster: Cluster) -> str:
    return str(cluster.get("lease", LEASE)["spec"]["holderIdentity"])


def test_a_renew_time_far_in_the_past_is_not_expired_on_sight(cluster: Cluster) -> None:
    """carol's clock is two days behind: by timestamps her live Lease looks long expired."""
    _lease(cluster, renew_offset=-2 * 86400, duration=3)
    target = make_target(cluster.kubeconfig, cluster.namespace)
    with pytest.raises(LockHeld) as held:
        target.acquire_lock(BOB, ttl=60, wait=0)
    assert held.value.info.holder == "carol@skewed" and held.value.info.expires_at > time.time() + 2
    assert _holder(cluster) == "carol@skewed run=run-c"
    # unchanged for its 3 s as seen from here: now it is expired
    started = time.monotonic()
    target.acquire_lock(BOB, ttl=60, wait=10)
    assert time.monotonic() - started >= 2.5
    assert _holder(cluster) == "bob@ci run=run-b"
    target.release_lock()


def test_a_holder_that_keeps_renewing_keeps_the_lease_whatever_its_clock(cluster: Cluster) -> None:
    _lease(cluster, renew_offset=-86400, duration=3)
    target = make_target(cluster.kubeconfig, cluster.namespace)
    stop = threading.Event()

    def carol_renews() -> None:  # every second, with her (skewed) clock: still in the past
        offset = -86400.0
        while not stop.wait(1.0):
            offset += 1
            cluster.kubectl("patch", "lease", LEASE, "--type", "merge", "-p",
                            json.dumps({"spec": {"renewTime": _stamp(offset)}}))

    renewer = threading.Thread(target=carol_renews, daemon=True)
    renewer.start()
    try:
        with pytest.raises(LockHeld):
            target.acquire_lock(BOB, ttl=60, wait=6)  # twice its duration: it never stood still that long
    finally:
        stop.set()
        renewer.join(10)
    assert _holder(cluster) == "carol@skewed run=run-c"


def test_a_renew_time_far_in_the_future_expires_after_its_duration(cluster: Cluster) -> None:
    """carol's clock is a day ahead and her run died: by timestamps the Lease holds for a day."""
    _lease(cluster, renew_offset=86400, duration=2)
    target = make_target(cluster.kubeconfig, cluster.namespace)
    started = time.monotonic()
    target.acquire_lock(BOB, ttl=60, wait=8)
    assert 1.5 <= time.monotonic() - started < 8
    spec = cluster.get("lease", LEASE)["spec"]
    assert spec["holderIdentity"] == "bob@ci run=run-b" and spec["leaseTransitions"] == 1
    target.release_lock()
    assert cluster.kubectl("get", "lease", LEASE, check=False).returncode != 0


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_lease_whose_owner_process_on_this_machine_is_gone_is_stale_at_once(cluster: Cluster) -> None:
    import socket

    from ajudaplay.owner import ProcessOwner

    here = ProcessOwner.current()
    dead = {"hostname": socket.gethostname(), "pid": _dead_pid(), "machine": here.machine, "started": ""}
    _lease(cluster, renew_offset=0, duration=900, annotations={"ajudaplay.io/owner": json.dumps(dead)})
    target = make_target(cluster.kubeconfig, cluster.namespace)
    started = time.monotonic()
    target.acquire_lock(BOB, ttl=60, wait=0)
    assert time.monotonic() - started < 3
    lease = cluster.get("lease", LEASE)
    assert lease["spec"]["holderIdentity"] == "bob@ci run=run-b"
    owner = json.loads(lease["metadata"]["annotations"]["ajudaplay.io/owner"])
    assert owner["pid"] == here.pid and owner["hostname"] == here.hostname
    target.release_lock()


def test_a_lease_from_another_machine_with_the_same_pid_still_waits_for_its_ttl(cluster: Cluster) -> None:
    elsewhere = {"hostname": "some-other-laptop", "pid": _dead_pid(), "machine": "", "started": ""}
    _lease(cluster, renew_offset=0, duration=900, annotations={"ajudaplay.io/owner": json.dumps(elsewhere)})
    with pytest.raises(LockHeld, match="carol@skewed"):
        make_target(cluster.kubeconfig, cluster.namespace).acquire_lock(BOB, ttl=60, wait=1)
    assert _holder(cluster) == "carol@skewed run=run-c"
