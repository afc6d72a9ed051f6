"""Losing the Lease mid-run stops the target: holder rewritten with kubectl, or renewals failing past the
renew deadline; a renewal that fails once is retried and loses nothing. Real apiserver, fault proxy.
Leases are API objects: the simulated node (conftest.py `cluster`) is enough, no container runs.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from ajudaplay.actions.base import default_registry
from ajudaplay.engine.events import Message, TaskStarted
from ajudaplay.engine.options import RunOptions
from ajudaplay.engine.run import Runner
from ajudaplay.inventory.loader import load_inventory
from ajudaplay.playbook.loader import load_playbook
from tests.engine.conftest import Collector
from tests.kubernetes.conftest import NEVER_READY_IMAGE, Cluster

pytestmark = pytest.mark.kubernetes

LOCK_LOST_TASK = "lock lost"
LONG = {"name": "long", "deploy": {"service": "api", "image": NEVER_READY_IMAGE, "atomic": False}, "timeout": 60}
AFTER = {"name": "after", "status": {"service": "api"}}


def _run(tmp: Path, kubeconfig: Path, cluster: Cluster, tasks: list[dict[str, Any]],
         meddle: Callable[[], None]) -> tuple[int, Collector, float]:
    cluster.deployment("api", "img:v1")
    (tmp / "play.yml").write_text(yaml.safe_dump([{"hosts": "all", "tasks": tasks}]))
    (tmp / "inv.yml").write_text(yaml.safe_dump({"targets": {"cluster": {
        "kubernetes": {"kubeconfig": str(kubeconfig), "namespace": cluster.namespace},
        "services": {"api": {"deployment": "api", "container": "api"}}}}}))
    listener = Collector()
    registry = default_registry()
    runner = Runner(load_playbook(tmp / "play.yml", registry), load_inventory(tmp / "inv.yml"), registry,
                    RunOptions(lock_ttl=3), [listener])

    def watch() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if any(isinstance(e, TaskStarted) and e.task == "long" for e in list(listener.events)):
                time.sleep(0.3)
                meddle()
                return
            time.sleep(0.05)

    threading.Thread(target=watch, daemon=True).start()
    started = time.monotonic()
    summary = runner.run()
    return summary.exit_code, listener, time.monotonic() - started


def test_a_lease_rewritten_with_kubectl_stops_the_run(cluster: Cluster, tmp_path: Path) -> None:
    def take_over() -> None:
        cluster.kubectl("patch", "lease", "ajudaplay-lock", "--type", "merge", "-p",
                        json.dumps({"spec": {"holderIdentity": "mallory@elsewhere run=run-m"}}))

    code, listener, elapsed = _run(tmp_path, cluster.kubeconfig, cluster, [LONG, AFTER], take_over)
    assert code == 2 and elapsed < 20
    [lost] = listener.results(LOCK_LOST_TASK)
    assert "taken over by mallory@elsewhere (run run-m)" in lost.error, lost.error
    assert listener.results("after") == []
    assert [r.status for r in listener.results("long")] in (["failed"], ["interrupted"])
    # the other holder's Lease is left alone
    assert cluster.get("lease", "ajudaplay-lock")["spec"]["holderIdentity"] == "mallory@elsewhere run=run-m"


def test_renewals_failing_past_the_deadline_lose_the_lock(cluster: Cluster, fault_proxy: Any, tmp_path: Path) -> None:
    def break_renewals() -> None:
        fault_proxy.error(500, count=None, match=r"^PUT .*/leases/ajudaplay-lock$")

    try:
        code, listener, elapsed = _run(tmp_path, fault_proxy.kubeconfig, cluster, [LONG, AFTER], break_renewals)
    finally:
        fault_proxy.pass_through()
    assert code == 2 and elapsed < 30
    [lost] = listener.results(LOCK_LOST_TASK)
    assert "could not be renewed for" in lost.error and "injected HTTP 500" in lost.error, lost.error
    assert listener.results("after") == []


def test_one_failed_renewal_is_retried_and_loses_nothing(cluster: Cluster, fault_proxy: Any, tmp_path: Path) -> None:
    def one_error() -> None:
        fault_proxy.error(500, count=1, match=r"^PUT .*/leases/ajudaplay-lock$")

    short = {**LONG, "timeout": 5, "ignore_errors": True}
    try:
        code, listener, _ = _run(tmp_path, fault_proxy.kubeconfig, cluster, [short, AFTER], one_error)
    finally:
        fault_proxy.pass_through()
    assert listener.results(LOCK_LOST_TASK) == []
    assert [r.status for r in listener.results("after")] == ["ok"]
    assert code == 0
    warnings = [e.text for e in listener.events if isinstance(e, Message) and e.level == "warning"]
    assert any("could not renew the lock, retrying" in w for w in warnings), warnings
