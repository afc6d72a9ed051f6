"""deploy / history / rollback / restart on real pods (the test kubelet), checked with kubectl.

The images are the Compose tests' busybox images; readiness is their wget on /health, so the
`unhealthy` image makes a real ProgressDeadlineExceeded. No node simulator here.
"""

from __future__ import annotations

import pytest

from ajudaplay.errors import TargetError, UnknownService
from ajudaplay.targets.kubernetes import KubernetesTarget
from tests.infra.k8s.node import API_UNHEALTHY as NEVER_READY_IMAGE
from tests.infra.k8s.node import API_V1, API_V2, API_V3
from tests.kubernetes.conftest import NodeCluster as Cluster
from tests.kubernetes.conftest import make_target, step

pytestmark = pytest.mark.kubernetes


@pytest.fixture
def cluster(node_cluster: Cluster) -> Cluster:
    """Real pods in this module (overrides the simulated-node `cluster` of conftest.py)."""
    return node_cluster


@pytest.fixture
def target(node_target: KubernetesTarget) -> KubernetesTarget:
    return node_target


def _template(cluster: Cluster, name: str) -> dict:
    dep = cluster.get("deployment", name)
    tpl = dep["spec"]["template"]
    tpl["metadata"].get("labels", {}).pop("pod-template-hash", None)
    # names differ between twins; everything else must be equal
    tpl["metadata"]["labels"].pop("app", None)
    return tpl


def test_deploy_waits_like_rollout_status_and_is_ok_when_unchanged(cluster: Cluster, target: KubernetesTarget) -> None:
    cluster.deployment("api", API_V1)
    messages: list[str] = []
    result = target.deploy(step(log=messages.append), "api", API_V2, atomic=False)
    assert result.changed and not result.failed, result.msg
    dep = cluster.get("deployment", "api")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == API_V2
    # rolled out exactly as kubectl rollout status requires, at the moment we returned
    status = dep["status"]
    assert status["observedGeneration"] >= dep["metadata"]["generation"]
    assert status["updatedReplicas"] == status["replicas"] == status["availableReplicas"] == 2
    assert "successfully rolled out" in cluster.kubectl("rollout", "status", "deployment/api", "--timeout=1s").stdout
    assert result.revisions[0].before == "1" and result.revisions[0].after == "2"
    assert result.changes[0].before == API_V1 and result.changes[0].after == API_V2

    again = target.deploy(step(), "api", API_V2, atomic=False)
    assert not again.changed and not again.failed
    assert cluster.revisions("api") == [(1, API_V1), (2, API_V2)]


def test_check_mode_writes_nothing(cluster: Cluster, target: KubernetesTarget) -> None:
    cluster.deployment("api", API_V1)
    before = cluster.get("deployment", "api")["metadata"]["resourceVersion"]
    result = target.deploy(step(check=True), "api", API_V2, atomic=True)
    assert result.changed and API_V2 in result.changes[0].summary()
    rollback = target.restart(step(check=True), "api")
    assert rollback.changed
    assert cluster.get("deployment", "api")["metadata"]["resourceVersion"] == before
    assert cluster.revisions("api") == [(1, API_V1)]


def test_history_agrees_with_kubectl(cluster: Cluster, target: KubernetesTarget) -> None:
    cluster.deployment("api", API_V1)
    target.deploy(step(), "api", API_V2, atomic=False)
    target.deploy(step(), "api", API_V3, atomic=False)
    result = target.history(step(), "api")
    ours = [(r["revision"], r["image"]) for r in result.data["revisions"]]
    assert ours == cluster.revisions("api") == [(1, API_V1), (2, API_V2), (3, API_V3)]
    assert result.data["current"] == 3
    assert [r["current"] for r in result.data["revisions"]] == [False, False, True]
    text = cluster.kubectl("rollout", "history", "deployment/api").stdout
    kubectl_revs = [int(line.split()[0]) for line in text.splitlines()[2:] if line.strip()]
    assert kubectl_revs == [1, 2, 3]
    assert f"ajudaplay deploy api={API_V3}" in text  # our change cause, shown by kubectl too


def test_rollback_twice_matches_kubectl_rollout_undo(cluster: Cluster, target: KubernetesTarget) -> None:
    """From the same state, rollback, rollback equals kubectl rollout undo, undo (revisions renumbered)."""
    for name in ("api", "twin"):
        cluster.deployment(name, API_V1)
        for image in (API_V2, API_V3):
            cluster.kubectl("set", "image", f"deployment/{name}", f"api={image}")
            cluster.kubectl("rollout", "status", f"deployment/{name}", "--timeout=60s")
    for _ in range(2):
        result = target.rollback(step(), "api", None)
        assert result.changed and not result.failed, result.msg
        cluster.kubectl("rollout", "undo", "deployment/twin")
        cluster.kubectl("rollout", "status", "deployment/twin", "--timeout=60s")
        assert cluster.revisions("api") == cluster.revisions("twin")
        assert _template(cluster, "api") == _template(cluster, "twin")
    # after two undos kubectl is back at v3 (rev 5), v2 renumbered to rev 4
    assert cluster.revisions("api") == [(1, API_V1), (4, API_V2), (5, API_V3)]


def test_rollback_to_revision_skip_unknown_and_paused(cluster: Cluster, target: KubernetesTarget) -> None:
    cluster.deployment("api", API_V1)
    target.deploy(step(), "api", API_V2, atomic=False)
    result = target.rollback(step(), "api", 1)
    assert result.changed and result.data["image"] == API_V1
    assert cluster.revisions("api") == [(2, API_V2), (3, API_V1)]

    skipped = target.rollback(step(), "api", 3)
    assert not skipped.changed and "skipped rollback" in skipped.msg

    with pytest.raises(TargetError, match="unable to find specified revision 9"):
        target.rollback(step(), "api", 9)

    cluster.kubectl("rollout", "pause", "deployment/api")
    rv = cluster.get("deployment", "api")["metadata"]["resourceVersion"]
    with pytest.raises(TargetError, match="paused deployment"):
        target.rollback(step(), "api", 2)
    assert cluster.get("deployment", "api")["metadata"]["resourceVersion"] == rv


def test_rollback_without_history_is_an_error(cluster: Cluster, target: KubernetesTarget) -> None:
    cluster.deployment("api", API_V1)
    with pytest.raises(TargetError, match="no rollout history"):
        target.rollback(step(), "api", None)


def test_atomic_deploy_of_never_ready_image_rolls_back(cluster: Cluster, target: KubernetesTarget) -> None:
    cluster.deployment("api", API_V1, deadline=5)
    target.deploy(step(), "api", API_V2, atomic=False)
    result = target.deploy(step(timeout=90), "api", NEVER_READY_IMAGE, atomic=True)
    assert result.failed and result.rolled_back and result.changed, result.msg
    assert "progress deadline" in result.msg
    dep = cluster.get("deployment", "api")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == API_V2
    assert "successfully rolled out" in cluster.kubectl("rollout", "status", "deployment/api", "--timeout=30s").stdout
    assert cluster.revisions("api") == [(1, API_V1), (3, NEVER_READY_IMAGE), (4, API_V2)]


def test_non_atomic_failure_reports_failed_without_undo(cluster: Cluster, target: KubernetesTarget) -> None:
    cluster.deployment("api", API_V1, deadline=5)
    result = target.deploy(step(timeout=90), "api", NEVER_READY_IMAGE, atomic=False)
    assert result.failed and not result.rolled_back
    assert cluster.get("deployment", "api")["spec"]["template"]["spec"]["containers"][0]["image"] == NEVER_READY_IMAGE


def test_restart_sets_restarted_at_and_waits(cluster: Cluster, target: KubernetesTarget) -> None:
    cluster.deployment("api", API_V1)
    result = target.restart(step(), "api")
    assert result.changed
    annotations = cluster.get("deployment", "api")["spec"]["template"]["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/restartedAt" in annotations
    assert cluster.revisions("api") == [(1, API_V1), (2, API_V1)]
    assert "successfully rolled out" in cluster.kubectl("rollout", "status", "deployment/api", "--timeout=1s").stdout


def test_clear_errors_for_missing_objects(cluster: Cluster, target: KubernetesTarget) -> None:
    with pytest.raises(UnknownService, match="the inventory defines: api, nginx"):
        target.deploy(step(), "web", API_V1, atomic=False)
    with pytest.raises(TargetError, match='deployments.apps "api" not found'):
        target.deploy(step(), "api", API_V1, atomic=False)
    other = make_target(cluster.kubeconfig, "no-such-namespace")
    with pytest.raises(TargetError, match="namespace 'no-such-namespace' does not exist"):
        other.status(step(), "api")
    with pytest.raises(TargetError, match="has no context 'nope'"):
        make_target(cluster.kubeconfig, cluster.namespace, context="nope").open()
