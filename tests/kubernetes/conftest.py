"""Fixtures for the Kubernetes target tests: the real control plane (never skipped) and helpers.

The control plane, node simulator, cert-manager simulator and fault proxy come
from tests/infra/k8s; a missing or broken control plane fails these tests.
"""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from ajudaplay.errors import Mark
from ajudaplay.inventory.model import TargetSpec
from ajudaplay.targets.base import StepContext
from ajudaplay.targets.kubernetes import KubernetesTarget
from tests.infra.k8s.conftest_fixtures import CRASH_IMAGE, NEVER_READY_IMAGE  # noqa: F401 - fixtures: tests/conftest.py
from tests.infra.k8s.node import health_probe, real_pod_placement

SERVICES = {"api": {"deployment": "api", "container": "api", "hpa": "api-hpa", "configmap": "api-config",
                    "secret": "api-env", "certificate": "api-tls", "tls_secret": "api-tls"},
            "nginx": {"deployment": "nginx"}}


def kubectl(kubeconfig: Path | str, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The independent client the tests compare against."""
    proc = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def kubectl_json(kubeconfig: Path | str, *args: str) -> Any:
    return json.loads(kubectl(kubeconfig, *args, "-o", "json").stdout)


def deployment_manifest(name: str, image: str, replicas: int = 2, container: str = "api", deadline: int = 8) -> dict[str, Any]:
    """A Deployment like the runbook's: quick rollouts, short progress deadline for failure tests."""
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas, "progressDeadlineSeconds": deadline, "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": container, "image": image}]}},
        },
    }


class Cluster:
    """Helpers bound to one test namespace: create objects, read them back through kubectl."""

    def __init__(self, kubeconfig: Path, namespace: str) -> None:
        self.kubeconfig = kubeconfig
        self.namespace = namespace

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return kubectl(self.kubeconfig, "-n", self.namespace, *args, check=check)

    def get(self, *args: str) -> Any:
        return kubectl_json(self.kubeconfig, "-n", self.namespace, "get", *args)

    def apply(self, manifest: dict[str, Any]) -> None:
        proc = subprocess.run(["kubectl", "--kubeconfig", str(self.kubeconfig), "-n", self.namespace, "apply", "-f", "-"],
                              input=json.dumps(manifest), capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr

    def deployment(self, name: str, image: str, **kw: Any) -> None:
        """Creates the Deployment and waits for its first rollout, with kubectl."""
        self.apply(deployment_manifest(name, image, **kw))
        self.kubectl("rollout", "status", f"deployment/{name}", "--timeout=60s")

    def revisions(self, name: str) -> list[tuple[int, str]]:
        """(revision, image) of the Deployment's ReplicaSets, sorted."""
        rss = self.get("rs", "-l", f"app={name}")["items"]
        return sorted((int(r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]),
                       r["spec"]["template"]["spec"]["containers"][0]["image"]) for r in rss)


@pytest.fixture
def cluster(control_plane: Any, node_sim: Any, namespace: str) -> Cluster:
    """The control plane with the SIMULATED node: for tests where no container has to run.

    Kept where a real node adds nothing the test checks and would only add its
    seconds per pod and its machine-wide lock: Leases (the lock tests), Secrets
    and Certificates (certificate tests), API faults (the fault proxy), and a
    rollout kept waiting on purpose (interrupt tests). Everything that runs
    inside a service, or needs a pod's real states, uses `node_cluster`.
    """
    return Cluster(control_plane.kubeconfig, namespace)


class NodeCluster(Cluster):
    """A Cluster whose Deployments run real pods on the test kubelet (busybox test images, exec readiness on /health)."""

    def deployment(self, name: str, image: str, **kw: Any) -> None:
        self.apply(real_deployment_manifest(name, image, **kw))
        self.kubectl("rollout", "status", f"deployment/{name}", "--timeout=90s")


def real_deployment_manifest(name: str, image: str, **kw: Any) -> dict[str, Any]:
    """deployment_manifest() placed on the real node, with the readiness probe the Compose healthcheck also uses.

    Progress deadline 30 s unless given: a real pod on a loaded 2-core machine can take more than the
    simulator's 8 s to become Ready (tests that want a quick ProgressDeadlineExceeded pass their own).
    """
    kw.setdefault("deadline", 30)
    manifest = deployment_manifest(name, image, **kw)
    pod = manifest["spec"]["template"]["spec"]
    pod.update(real_pod_placement(), terminationGracePeriodSeconds=5)
    pod["containers"][0]["readinessProbe"] = health_probe()
    return manifest


@pytest.fixture
def node_cluster(control_plane: Any, k8s_node: Any, namespace: str) -> NodeCluster:
    """A fresh namespace whose pods are real containers (tests/infra/k8s/node.py)."""
    return NodeCluster(control_plane.kubeconfig, namespace)


@pytest.fixture
def node_target(node_cluster: NodeCluster) -> Iterator[KubernetesTarget]:
    """The Kubernetes target on node_cluster's namespace."""
    t = make_target(node_cluster.kubeconfig, node_cluster.namespace)
    t.open()
    try:
        yield t
    finally:
        t.close()


def make_target(kubeconfig: Path | str, namespace: str, name: str = "cluster", **connection: Any) -> KubernetesTarget:
    spec = TargetSpec(name=name, kind="kubernetes", mark=Mark("inventory.yml", 1, 1),
                      connection={"kubeconfig": str(kubeconfig), "namespace": namespace, **connection},
                      services=json.loads(json.dumps(SERVICES)))
    return KubernetesTarget(spec)


@pytest.fixture
def target(cluster: Cluster) -> Iterator[KubernetesTarget]:
    t = make_target(cluster.kubeconfig, cluster.namespace)
    t.open()
    try:
        yield t
    finally:
        t.close()


def step(check: bool = False, timeout: float | None = 60, log: Callable[[str], None] | None = None, **kw: Any) -> StepContext:
    return StepContext(run_id="test-run", check=check, timeout=timeout, cancel=threading.Event(),
                       log=log or (lambda m: None), user="tester", **kw)
