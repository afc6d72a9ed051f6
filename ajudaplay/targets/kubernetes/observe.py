"""Read-only triage: `status` (conditions, replicas, pods, why: diagnosis.py); `logs` is podlogs.py."""

from __future__ import annotations

from typing import Any

from ajudaplay.errors import TargetError
from ajudaplay.outcomes import ServiceStatus
from ajudaplay.targets.base import StepContext
from ajudaplay.targets.kubernetes import diagnosis
from ajudaplay.targets.kubernetes.api import JSON, Kube
from ajudaplay.targets.kubernetes.objects import list_pods, pick_container, read_deployment, replicas_of, rollout_counts
from ajudaplay.targets.kubernetes.revisions import container_images, revision_of
from ajudaplay.targets.kubernetes.rollout import rollout_status
from ajudaplay.targets.kubernetes.services import ServiceRef
from ajudaplay.targets.problems import summary


def _pod_data(pod: JSON, container: str) -> dict[str, Any]:
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    mine = next((c for c in statuses if c.get("name") == container), None)
    return {
        "name": pod["metadata"]["name"],
        "phase": status.get("phase", "Unknown"),
        "ready": ready,
        "restarts": sum(int(c.get("restartCount") or 0) for c in statuses),
        "image": container_images(pod).get(container),
        "node": (pod.get("spec") or {}).get("nodeName"),
        "started": status.get("startTime"),
        "state": next(iter((mine or {}).get("state") or {}), None),
        "terminating": bool(pod["metadata"].get("deletionTimestamp")),
    }


def status(kube: Kube, ctx: StepContext, ref: ServiceRef) -> ServiceStatus:
    """The Deployment's conditions and replica counts, and each pod's phase, readiness and restarts."""
    deployment = read_deployment(kube, ref)
    container = pick_container(deployment, ref, kube.target)
    raw_pods = list_pods(kube, deployment)
    pods = [_pod_data(p, container) for p in raw_pods]
    try:
        done, message = rollout_status(deployment)
        failed = False
    except TargetError as exc:
        done, message, failed = False, str(exc), True
    conditions = [
        {k: c.get(k) for k in ("type", "status", "reason", "message", "lastUpdateTime")}
        for c in (deployment.get("status") or {}).get("conditions") or []
    ]
    replicas = replicas_of(deployment)
    healthy = done and replicas.available >= replicas.desired
    why, warnings = diagnosis.why(kube, deployment, raw_pods)
    ready = sum(1 for p in pods if p["ready"])
    because = f"; why: {summary(why)}" if why and not healthy else ""
    return ServiceStatus(
        msg=f"{message}; {ready}/{len(pods)} pods ready{because}",
        warnings=warnings,
        service=ref.service,
        image=container_images(deployment["spec"]["template"]).get(container),
        revision=revision_of(deployment),
        healthy=healthy,
        replicas=replicas,
        restarts=sum(p["restarts"] for p in pods),
        why=why,
        pods=pods,
        extra={
            "deployment": ref.deployment,
            "namespace": kube.namespace,
            "container": container,
            "paused": bool((deployment.get("spec") or {}).get("paused")),
            **rollout_counts(deployment),
            "conditions": conditions,
            "rolled_out": done,
            "progress_deadline_exceeded": failed,
            "message": message,
        },
    )

