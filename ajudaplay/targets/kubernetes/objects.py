"""Reading the objects behind a service: the Deployment, its ReplicaSets, its pods, its container.

Shared by every action module; turns a bare 404 into a message that names
the namespace or the inventory mapping that is wrong.
"""

from __future__ import annotations

from ajudaplay.errors import TargetError
from ajudaplay.outcomes import Replicas
from ajudaplay.targets.kubernetes.api import JSON, Kube
from ajudaplay.targets.kubernetes.apierrors import KubeApiError
from ajudaplay.targets.kubernetes.revisions import label_selector, owned_replicasets
from ajudaplay.targets.kubernetes.services import ServiceRef


def deployment_path(kube: Kube, name: str, sub: str | None = None) -> str:
    return kube.ns_path("apps/v1", "deployments", name, sub)


def read_deployment(kube: Kube, ref: ServiceRef) -> JSON:
    """The Deployment of a service; a missing namespace or Deployment is said plainly."""
    try:
        return kube.get(deployment_path(kube, ref.deployment), what=f"deployment {ref.deployment!r}")
    except KubeApiError as exc:
        if not exc.not_found:
            raise
        raise missing(kube, exc, f"services.{ref.service}.deployment is {ref.deployment!r}") from exc


def missing(kube: Kube, exc: KubeApiError, mapping: str) -> TargetError:
    """Explains a 404: the namespace is missing, or the inventory names an object that is not there."""
    namespace = kube.get_or_none(f"/api/v1/namespaces/{kube.namespace}", what=f"namespace {kube.namespace!r}")
    if namespace is None:
        return TargetError(
            f"target {kube.target!r}: namespace {kube.namespace!r} does not exist on {kube.server}\n"
            "    hint: check kubernetes.namespace in the inventory"
        )
    return TargetError(
        f"target {kube.target!r}: {exc.api_message} in namespace {kube.namespace!r}\n    hint: the inventory's {mapping}"
    )


def list_owned_replicasets(kube: Kube, deployment: JSON) -> list[JSON]:
    """The Deployment's ReplicaSets (selector narrowed server-side, ownership checked by uid)."""
    query = {"labelSelector": label_selector((deployment.get("spec") or {}).get("selector"))}
    listing = kube.get(kube.ns_path("apps/v1", "replicasets"), query=query, what="replicasets")
    return owned_replicasets(deployment, list(listing.get("items") or []))


def list_pods(kube: Kube, deployment: JSON) -> list[JSON]:
    """The pods selected by the Deployment's selector, oldest first."""
    query = {"labelSelector": label_selector((deployment.get("spec") or {}).get("selector"))}
    listing = kube.get(kube.ns_path("v1", "pods"), query=query, what="pods")
    pods = list(listing.get("items") or [])
    pods.sort(key=lambda p: ((p.get("metadata") or {}).get("creationTimestamp") or "", p["metadata"]["name"]))
    return pods


def pick_container(deployment: JSON, ref: ServiceRef, target: str) -> str:
    """The container the service means: the inventory's `container`, else the only one, else the service's name."""
    containers = [str(c.get("name")) for c in ((deployment["spec"]["template"].get("spec") or {}).get("containers") or [])]
    if ref.container:
        if ref.container not in containers:
            raise TargetError(
                f"target {target!r}: deployment {ref.deployment!r} has no container {ref.container!r}; "
                f"it has: {', '.join(containers)}\n    hint: fix services.{ref.service}.container in the inventory"
            )
        return ref.container
    if len(containers) == 1:
        return containers[0]
    if ref.service in containers:
        return ref.service
    raise TargetError(
        f"target {target!r}: deployment {ref.deployment!r} has containers {', '.join(containers)}; "
        f"say which one is the service\n    hint: add services.{ref.service}.container: NAME to the inventory"
    )


def replicas_summary(deployment: JSON) -> dict[str, int]:
    """desired/updated/ready/available/unavailable replica counts, registered by several actions."""
    status = deployment.get("status") or {}
    return {
        "desired": int((deployment.get("spec") or {}).get("replicas") or 0),
        "current": int(status.get("replicas") or 0),
        "updated": int(status.get("updatedReplicas") or 0),
        "ready": int(status.get("readyReplicas") or 0),
        "available": int(status.get("availableReplicas") or 0),
        "unavailable": int(status.get("unavailableReplicas") or 0),
    }


def replicas_of(deployment: JSON) -> Replicas:
    """The counts every mode registers as `replicas` (desired, current, ready, available)."""
    counts = replicas_summary(deployment)
    return Replicas(counts["desired"], counts["current"], counts["ready"], counts["available"])


def rollout_counts(deployment: JSON) -> dict[str, int]:
    """What only a Deployment knows, registered beside `replicas`: updated and unavailable replicas."""
    counts = replicas_summary(deployment)
    return {"updated_replicas": counts["updated"], "unavailable_replicas": counts["unavailable"]}
