"""`kubectl rollout status` for Deployments: the same conditions, the same messages, via one watch.

`rollout_status` is kubectl's DeploymentStatusViewer.Status transcribed
(observedGeneration >= generation; updatedReplicas, replicas and
availableReplicas; Progressing=False/ProgressDeadlineExceeded fails);
`wait_rollout` feeds it the Deployment's watch events.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ajudaplay.errors import TargetError
from ajudaplay.targets.kubernetes.api import JSON, Kube
from ajudaplay.targets.kubernetes.watching import wait_for

TIMED_OUT_REASON = "ProgressDeadlineExceeded"


class RolloutFailed(TargetError):
    """The Deployment controller gave up (progress deadline exceeded)."""


def rollout_status(deployment: JSON) -> tuple[bool, str]:
    """(done, message) exactly as kubectl rollout status decides; raises RolloutFailed on the deadline."""
    meta = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    name = meta.get("name", "")
    if int(meta.get("generation") or 0) <= int(status.get("observedGeneration") or 0):
        for cond in status.get("conditions") or []:
            if cond.get("type") == "Progressing" and cond.get("reason") == TIMED_OUT_REASON:
                raise RolloutFailed(f'deployment "{name}" exceeded its progress deadline: {cond.get("message", "")}'.rstrip(": "))
        replicas = spec.get("replicas")
        updated = int(status.get("updatedReplicas") or 0)
        current = int(status.get("replicas") or 0)
        available = int(status.get("availableReplicas") or 0)
        if replicas is not None and updated < int(replicas):
            return False, f'Waiting for deployment "{name}" rollout to finish: {updated} out of {replicas} new replicas have been updated...'
        if current > updated:
            return False, f'Waiting for deployment "{name}" rollout to finish: {current - updated} old replicas are pending termination...'
        if available < updated:
            return False, f'Waiting for deployment "{name}" rollout to finish: {available} of {updated} updated replicas are available...'
        return True, f'deployment "{name}" successfully rolled out'
    return False, "Waiting for deployment spec update to be observed..."


def wait_rollout(
    kube: Kube,
    deployment: JSON,
    *,
    timeout: float,
    cancel: threading.Event,
    log: Callable[[str], None] = lambda message: None,
) -> JSON:
    """Waits from this version of the Deployment until rolled out; returns the final object."""
    name = deployment["metadata"]["name"]
    return wait_for(
        kube,
        kube.ns_path("apps/v1", "deployments"),
        name,
        deployment,
        rollout_status,
        timeout=timeout,
        cancel=cancel,
        log=log,
        what=f"deployment {name!r}",
    )
