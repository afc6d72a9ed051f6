"""What the Kubernetes target registers agrees with Compose and the docs (real pods, checked with kubectl).

- history names the user and run of each revision ajudaplay made (annotations the controller
  copies from the Deployment onto the new ReplicaSet), and nobody for a revision made outside,
  even though such a ReplicaSet inherits the Deployment's annotations;
- deploy registers `replicas` as the {desired, current, ready, available} mapping;
- a deploy (and scale) with no timeout waits at most the documented 120 s.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from ajudaplay.outcomes import DEFAULT_WAIT
from ajudaplay.targets.base import StepContext
from ajudaplay.targets.kubernetes import KubernetesTarget, rollouts
from tests.infra.k8s.node import API_V1, API_V2, API_V3
from tests.kubernetes.conftest import NodeCluster as Cluster

pytestmark = pytest.mark.kubernetes
USER, RUN_ID = "ajudaplay.io/user", "ajudaplay.io/run-id"


def _step(run_id: str, user: str, timeout: float | None = 90) -> StepContext:
    return StepContext(run_id=run_id, user=user, timeout=timeout, cancel=threading.Event())


def _rs_annotations(cluster: Cluster, revision: int) -> dict[str, str]:
    """The annotations of the ReplicaSet holding `revision`, read with kubectl."""
    for rs in cluster.get("rs", "-l", "app=api")["items"]:
        annotations = rs["metadata"].get("annotations") or {}
        if annotations.get("deployment.kubernetes.io/revision") == str(revision):
            return dict(annotations)
    raise AssertionError(f"no ReplicaSet has revision {revision}")


def test_history_names_who_made_each_revision_and_nobody_for_changes_made_outside(
    node_cluster: Cluster, node_target: KubernetesTarget
) -> None:
    cluster, target = node_cluster, node_target
    cluster.deployment("api", API_V1)  # revision 1: kubectl apply
    deployed = target.deploy(_step("run-a", "alice"), "api", API_V2, atomic=False)  # revision 2
    assert deployed.changed and not deployed.failed, deployed.msg
    rs2 = _rs_annotations(cluster, 2)
    assert (rs2[USER], rs2[RUN_ID]) == ("alice", "run-a")

    cluster.kubectl("set", "image", "deployment/api", f"api={API_V3}")  # revision 3: outside ajudaplay
    cluster.kubectl("rollout", "status", "deployment/api", "--timeout=90s")
    assert _rs_annotations(cluster, 3)[USER] == "alice"  # inherited from the Deployment: not proof of authorship

    restarted = target.restart(_step("run-b", "bob"), "api")  # revision 4
    assert restarted.changed and not restarted.failed, restarted.msg
    back = target.rollback(_step("run-c", "carol"), "api", 2)  # revision 2's template, renumbered 5
    assert back.changed and not back.failed, back.msg
    rs5 = _rs_annotations(cluster, 5)
    assert (rs5[USER], rs5[RUN_ID]) == ("carol", "run-c")

    history = target.history(_step("run-d", "dave"), "api").data
    made = {r["revision"]: (r["user"], r["run_id"]) for r in history["revisions"]}
    assert made == {1: (None, None), 3: (None, None), 4: ("bob", "run-b"), 5: ("carol", "run-c")}
    assert history["current"] == 5 and [r["revision"] for r in history["revisions"] if r["current"]] == [5]
    assert {r["revision"]: r["image"] for r in history["revisions"]} == {1: API_V1, 3: API_V3, 4: API_V3, 5: API_V2}
    assert all(isinstance(r["revision"], int) for r in history["revisions"])


def test_deploy_registers_replica_counts_and_waits_the_documented_default(
    node_cluster: Cluster, node_target: KubernetesTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster, target = node_cluster, node_target
    cluster.deployment("api", API_V1)
    waited: list[float] = []
    real = rollouts.wait_rollout

    def recording(kube: Any, deployment: Any, *, timeout: float, **kw: Any) -> Any:
        waited.append(timeout)
        return real(kube, deployment, timeout=timeout, **kw)

    monkeypatch.setattr(rollouts, "wait_rollout", recording)
    result = target.deploy(_step("run-a", "alice", timeout=None), "api", API_V2, atomic=False)
    assert result.changed and not result.failed, result.msg
    assert waited == [DEFAULT_WAIT] == [120.0]
    assert result.data["replicas"] == {"desired": 2, "current": 2, "ready": 2, "available": 2}
    assert isinstance(result.data["revision"], int) and result.data["image"] == API_V2

    same = target.deploy(_step("run-b", "bob", timeout=None), "api", API_V2, atomic=False)
    assert not same.changed and set(same.data["replicas"]) == {"desired", "current", "ready", "available"}
    deployment = cluster.get("deployment", "api")
    assert same.data["replicas"]["available"] == deployment["status"]["availableReplicas"]
