"""kubernetes/storage.volumes on canned API answers: the kinds of volume, a missing claim, a claim it may not read.

A stand-in for the API server (a dict of paths): the real one is in tests/storage/test_kubernetes_e2e.py,
which lists a Bound claim; these are the answers that node cannot easily give (a claim deleted under a
running Deployment, an RBAC refusal), and the mount of a sidecar that is not the service's container.
"""

from __future__ import annotations

from typing import Any

from ajudaplay.targets.kubernetes.apierrors import KubeApiError
from ajudaplay.targets.kubernetes.services import ServiceRef
from ajudaplay.targets.kubernetes.storage import volumes
from tests.kubernetes.conftest import step

NS = "/namespaces/prod"
DEPLOYMENT = {"spec": {"template": {"spec": {
    "containers": [
        {"name": "api", "volumeMounts": [{"name": "data", "mountPath": "/app/data"},
                                         {"name": "cache", "mountPath": "/tmp/cache"},
                                         {"name": "gone", "mountPath": "/app/archive", "readOnly": True},
                                         {"name": "secret-claim", "mountPath": "/app/vault"},
                                         {"name": "conf", "mountPath": "/etc/app"}]},
        {"name": "sidecar", "volumeMounts": [{"name": "side", "mountPath": "/side"}]}],
    "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "api-data"}},
                {"name": "cache", "emptyDir": {}},
                {"name": "gone", "persistentVolumeClaim": {"claimName": "api-archive"}},
                {"name": "secret-claim", "persistentVolumeClaim": {"claimName": "vault"}},
                {"name": "conf", "configMap": {"name": "api-conf"}},
                {"name": "side", "persistentVolumeClaim": {"claimName": "side"}}]}}}}
PVC = {"spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "fast", "volumeName": "pv-1",
                "resources": {"requests": {"storage": "10Gi"}}},
       "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}}}


class Answers:
    """Kube's read methods over canned answers; a KubeApiError value is raised."""

    target, namespace = "cluster", "prod"

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers

    def ns_path(self, group_version: str, resource: str, name: str | None = None, sub: str | None = None) -> str:
        return f"{NS}/{resource}/{name}"

    def get(self, path: str, **kw: Any) -> Any:
        value = self.answers.get(path)
        if value is None:
            raise KubeApiError(404, "NotFound", f"{path} not found")
        if isinstance(value, KubeApiError):
            raise value
        return value

    def get_or_none(self, path: str, **kw: Any) -> Any:
        try:
            return self.get(path)
        except KubeApiError as exc:
            if exc.not_found:
                return None
            raise


def test_claims_and_other_volumes_of_the_service_container() -> None:
    kube = Answers({f"{NS}/deployments/api": DEPLOYMENT, f"{NS}/persistentvolumeclaims/api-data": PVC,
                    f"{NS}/persistentvolumeclaims/vault": KubeApiError(403, "Forbidden", "pvc vault is forbidden")})
    found = volumes(kube, step(), ServiceRef(service="api", deployment="api", container="api"))  # type: ignore[arg-type]
    by_path = {v["mount_path"]: v for v in found}
    assert sorted(by_path) == ["/app/archive", "/app/data", "/app/vault", "/etc/app", "/tmp/cache"]  # not the sidecar's
    assert by_path["/app/data"] == {
        "name": "data", "kind": "persistentVolumeClaim", "mount_path": "/app/data", "read_only": False, "container": "api",
        "claim": "api-data", "phase": "Bound", "capacity": "10Gi", "requested": "10Gi", "storage_class": "fast",
        "access_modes": ["ReadWriteOnce"], "volume": "pv-1"}
    assert (by_path["/app/archive"]["phase"], by_path["/app/archive"]["read_only"]) == ("Missing", True)
    assert by_path["/app/vault"]["phase"] == "Unknown" and "forbidden" in by_path["/app/vault"]["error"]
    assert (by_path["/tmp/cache"]["kind"], by_path["/etc/app"]["kind"]) == ("emptyDir", "configMap")
    assert "claim" not in by_path["/tmp/cache"]
