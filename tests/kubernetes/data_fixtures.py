"""A service with its data on a volume that outlives its pods, on the real test node: the database verbs' ground.

A hostPath PersistentVolume (a fresh folder on this machine, which is the node), pre-bound to a
PersistentVolumeClaim in the test's namespace, and a Deployment of the SQLite test image with the claim
mounted at /app/data. Scaling to 0 must not lose the data (the issue's restore runs while the
Deployment is at 0), which is why the data is not in an emptyDir. Used by tests/kubernetes/test_workspace.py
and the database end-to-end tests:

    from tests.kubernetes.data_fixtures import data_service, DataService  # noqa: F401 - a fixture
    def test_x(data_service: DataService) -> None:
        data_service.deploy(replicas=1)     # waits for the rollout with kubectl
        data_service.target                 # a KubernetesTarget with services.api.database
        data_service.host_dir               # the volume's folder on this machine (what the pods see)

Until `ajudaplay-test/dbapi:v1` exists (tests/infra/docker/build-images.sh), the plain busybox api image
stands in (no writer; readiness on /health), so the file plumbing is tested either way.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from ajudaplay.errors import Mark
from ajudaplay.inventory.model import TargetSpec
from ajudaplay.targets.kubernetes import KubernetesTarget
from tests.infra.k8s.node import API_V1
from tests.kubernetes.conftest import NodeCluster, real_deployment_manifest

DBAPI_IMAGE = "ajudaplay-test/dbapi:v1"
DATA_DIR = "/app/data"
DB_PATH = f"{DATA_DIR}/ajudadorabot.db"
HOST_ROOT = Path("/var/tmp/ajudaplay-test-volumes")  # hostPath folders: one per test, removed afterwards


def have_image(image: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode == 0


def service_image() -> tuple[str, str]:
    """(image, health path): the SQLite writer image when it is built, else the plain api image."""
    if have_image(DBAPI_IMAGE):
        return DBAPI_IMAGE, "/cgi-bin/health"
    return API_V1, "/health"


def readiness(path: str, port: int = 8080) -> dict[str, Any]:
    """The kubelet's readiness check: the image's own wget on `path` (tests/infra/k8s/node.health_probe's timings)."""
    return {"exec": {"command": ["wget", "-q", "-O-", f"http://127.0.0.1:{port}{path}"]},
            "periodSeconds": 1, "timeoutSeconds": 5, "failureThreshold": 3, "successThreshold": 1}


def services(deployment: str = "api", path: str = DB_PATH) -> dict[str, Any]:
    """The inventory's service mapping for the data service (one database, `main`)."""
    return {"api": {"deployment": deployment, "container": "api", "database": {"path": path}}}


class DataService:
    """One test's data volume (PV + PVC on a host folder) and the Deployment that mounts it."""

    def __init__(self, cluster: NodeCluster, host_dir: Path, claim: str, pv: str) -> None:
        self.cluster, self.host_dir, self.claim, self.pv = cluster, host_dir, claim, pv
        self.name = "api"
        self.image, self.health = service_image()
        self.target = KubernetesTarget(TargetSpec(
            name="cluster", kind="kubernetes", mark=Mark("inventory.yml", 1, 1),
            connection={"kubeconfig": str(cluster.kubeconfig), "namespace": cluster.namespace},
            services=services(self.name)))

    def manifest(self, replicas: int = 1, **pod_spec: Any) -> dict[str, Any]:
        """The Deployment: real_deployment_manifest() with the claim at /app/data; extra pod spec fields merged."""
        manifest = real_deployment_manifest(self.name, self.image, replicas=replicas)
        spec = manifest["spec"]["template"]["spec"]
        container = spec["containers"][0]
        container["readinessProbe"] = readiness(self.health)
        container["env"] = [{"name": "DB_PATH", "value": DB_PATH}]
        container["volumeMounts"] = [{"name": "data", "mountPath": DATA_DIR}]
        spec["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": self.claim}}]
        spec.update(pod_spec)
        return manifest

    def deploy(self, replicas: int = 1, **pod_spec: Any) -> None:
        """Apply the Deployment and wait for its rollout with kubectl (the independent client)."""
        self.cluster.apply(self.manifest(replicas, **pod_spec))
        self.cluster.kubectl("rollout", "status", f"deployment/{self.name}", "--timeout=120s")

    def pods(self) -> list[dict[str, Any]]:
        """The Deployment's pods as kubectl sees them (terminating ones included)."""
        return list(self.cluster.get("pods", "-l", f"app={self.name}")["items"])

    def ready_pod(self) -> str:
        names = [p["metadata"]["name"] for p in self.pods() if not p["metadata"].get("deletionTimestamp")
                 and any(c.get("type") == "Ready" and c.get("status") == "True"
                         for c in (p.get("status") or {}).get("conditions") or [])]
        assert names, f"no Ready pod of {self.name}: {json.dumps(self.pods())[:2000]}"
        return str(sorted(names)[0])

    def exec(self, *argv: str) -> bytes:
        """`kubectl exec` in a Ready pod of the service: what the service itself sees."""
        return subprocess.run(["kubectl", "--kubeconfig", str(self.cluster.kubeconfig), "-n", self.cluster.namespace,
                               "exec", self.ready_pod(), "-c", "api", "--", *argv],
                              capture_output=True, check=True, timeout=120).stdout

    def data_pods(self) -> list[dict[str, Any]]:
        """Pods made by ServiceData.offline (label ajudaplay.io/data-pod=true), terminating ones included."""
        return list(self.cluster.get("pods", "-l", "ajudaplay.io/data-pod=true")["items"])


def _bound(cluster: NodeCluster, claim: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        phase = (cluster.get("pvc", claim).get("status") or {}).get("phase")
        if phase == "Bound":
            return
        assert time.monotonic() < deadline, f"pvc {claim} is {phase}, not Bound, after {timeout}s"
        time.sleep(0.3)


@pytest.fixture
def data_service(node_cluster: NodeCluster) -> Iterator[DataService]:
    """A hostPath PV bound to PVC `data` in the test namespace, and a DataService to deploy on it."""
    HOST_ROOT.mkdir(parents=True, exist_ok=True)
    host_dir = Path(tempfile.mkdtemp(prefix=f"{node_cluster.namespace}-", dir=HOST_ROOT))
    pv, claim = f"ajudaplay-{node_cluster.namespace}-data", "data"
    node_cluster.apply({
        "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "",
                 "persistentVolumeReclaimPolicy": "Retain", "hostPath": {"path": str(host_dir), "type": "Directory"},
                 "claimRef": {"namespace": node_cluster.namespace, "name": claim}}})
    service: DataService | None = None
    try:
        node_cluster.apply({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": claim},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "", "volumeName": pv,
                     "resources": {"requests": {"storage": "1Gi"}}}})
        _bound(node_cluster, claim)
        service = DataService(node_cluster, host_dir, claim, pv)
        yield service
    finally:
        if service is not None:
            service.target.close()
        node_cluster.kubectl("delete", "deployment", "api", "--ignore-not-found", "--wait=false", check=False)
        node_cluster.kubectl("delete", "pvc", claim, "--ignore-not-found", "--wait=false", check=False)
        node_cluster.kubectl("delete", "pv", pv, "--ignore-not-found", "--wait=false", check=False)
        shutil.rmtree(host_dir, ignore_errors=True)
