"""The PVCs a Kubernetes service mounts (the `disk` action): pod template volumes and the claims themselves.

Read-only: the Deployment's pod template (what every pod of the service mounts, and at
which path in the inventory's container), then one GET per claim for its phase,
capacity, storage class and bound volume. A claim that is not there (yet) is listed
with phase "Missing", a claim the credentials may not read with the API's reason.
Other volume kinds (emptyDir, configMap, secret, hostPath) are listed by kind, without
details: they are not storage an operator resizes.
"""

from __future__ import annotations

from typing import Any

from ajudaplay.targets.base import StepContext
from ajudaplay.targets.kubernetes.api import JSON, Kube
from ajudaplay.targets.kubernetes.apierrors import KubeApiError
from ajudaplay.targets.kubernetes.objects import pick_container, read_deployment
from ajudaplay.targets.kubernetes.services import ServiceRef

_KINDS = ("persistentVolumeClaim", "emptyDir", "configMap", "secret", "hostPath", "projected", "downwardAPI", "ephemeral")


def volumes(kube: Kube, ctx: StepContext, ref: ServiceRef) -> list[dict[str, Any]]:
    """One dict per volume the container mounts: {name, kind, mount_path, read_only, claim, phase, capacity, ...}."""
    deployment = read_deployment(kube, ref)
    container_name = pick_container(deployment, ref, kube.target)
    spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    container: JSON = next((c for c in spec.get("containers") or [] if c.get("name") == container_name), {})
    by_name = {str(v.get("name")): v for v in spec.get("volumes") or []}
    found: list[dict[str, Any]] = []
    for mount in container.get("volumeMounts") or []:
        volume = by_name.get(str(mount.get("name"))) or {}
        kind = next((k for k in _KINDS if k in volume), "other")
        entry: dict[str, Any] = {
            "name": str(mount.get("name")), "kind": kind, "mount_path": str(mount.get("mountPath") or ""),
            "read_only": bool(mount.get("readOnly")), "container": container_name,
        }
        if kind == "persistentVolumeClaim":
            entry.update(claim(kube, str((volume[kind] or {}).get("claimName") or "")))
        found.append(entry)
    return sorted(found, key=lambda m: m["mount_path"])


def claim(kube: Kube, name: str) -> dict[str, Any]:
    """The PVC's phase, capacity (status), requested size (spec), storage class, access modes and volume."""
    details: dict[str, Any] = {"claim": name, "phase": None, "capacity": None, "requested": None,
                               "storage_class": None, "access_modes": [], "volume": None}
    try:
        pvc = kube.get_or_none(kube.ns_path("v1", "persistentvolumeclaims", name), what=f"persistentvolumeclaim {name!r}")
    except KubeApiError as exc:
        details["phase"] = "Unknown"
        details["error"] = exc.api_message
        return details
    if pvc is None:
        details["phase"] = "Missing"
        return details
    pvc_spec, status = pvc.get("spec") or {}, pvc.get("status") or {}
    details.update({
        "phase": status.get("phase"),
        "capacity": (status.get("capacity") or {}).get("storage"),
        "requested": ((pvc_spec.get("resources") or {}).get("requests") or {}).get("storage"),
        "storage_class": pvc_spec.get("storageClassName"),
        "access_modes": list(pvc_spec.get("accessModes") or []),
        "volume": pvc_spec.get("volumeName"),
    })
    return details
