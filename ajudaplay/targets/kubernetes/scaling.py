"""`scale`: replicas through the Deployment's scale subresource, autoscaler bounds on the HPA.

Bounds go through autoscaling/v1 (served by 1.20 and by current releases),
with autoscaling/v2 as the fallback for clusters that dropped v1. Setting
replicas on a Deployment an HPA controls is allowed but warned about: the HPA
will override it at its next sync.
"""

from __future__ import annotations

from typing import Any

from ajudaplay.errors import TargetError
from ajudaplay.outcomes import Change, ScaleOutcome
from ajudaplay.targets.base import StepContext
from ajudaplay.targets.kubernetes.api import JSON, Kube
from ajudaplay.targets.kubernetes.apierrors import KubeApiError
from ajudaplay.targets.kubernetes.objects import deployment_path, missing, read_deployment, replicas_of, rollout_counts
from ajudaplay.targets.kubernetes.rollout import wait_rollout
from ajudaplay.targets.kubernetes.rollouts import DEFAULT_TIMEOUT
from ajudaplay.targets.kubernetes.services import ServiceRef

HPA_VERSIONS = ("autoscaling/v1", "autoscaling/v2")


class _Scaling:
    """What the two halves of a scale found and did, gathered before the outcome is made."""

    def __init__(self) -> None:
        self.changes: list[Change] = []
        self.warnings: list[str] = []
        self.data: dict[str, Any] = {}


def _hpa_path(kube: Kube, version: str, name: str | None = None) -> str:
    return kube.ns_path(version, "horizontalpodautoscalers", name)


def _read_hpa(kube: Kube, ref: ServiceRef, name: str) -> tuple[str, JSON]:
    """(api version, HPA) — v1 first, v2 when the cluster no longer serves v1."""
    last: KubeApiError | None = None
    for version in HPA_VERSIONS:
        try:
            return version, kube.get(_hpa_path(kube, version, name), what=f"horizontalpodautoscaler {name!r}")
        except KubeApiError as exc:
            if not exc.not_found:
                raise
            last = exc
            if exc.details.get("name") == name:  # the API exists, the object does not
                break
    assert last is not None
    raise missing(kube, last, f"services.{ref.service}.hpa is {name!r}") from last


def _controlling_hpa(kube: Kube, deployment: str) -> str | None:
    """The HPA whose scaleTargetRef is this Deployment, if any (for the override warning)."""
    for version in HPA_VERSIONS:
        try:
            listing = kube.get(_hpa_path(kube, version), what="horizontalpodautoscalers")
        except KubeApiError as exc:
            if exc.not_found:
                continue
            if exc.status == 403:
                return None
            raise
        for hpa in listing.get("items") or []:
            target = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
            if target.get("kind") == "Deployment" and target.get("name") == deployment:
                return str(hpa["metadata"]["name"])
        return None
    return None


def scale(
    kube: Kube, ctx: StepContext, ref: ServiceRef, replicas: int | None, min_replicas: int | None, max_replicas: int | None
) -> ScaleOutcome:
    """Sets replicas and/or HPA bounds; waits for the replicas like rollout status; `ok` when nothing differs."""
    result = _Scaling()
    deployment: JSON | None = None
    if min_replicas is not None or max_replicas is not None:
        _scale_hpa(kube, ctx, ref, min_replicas, max_replicas, result)
    if replicas is not None:
        deployment = _scale_replicas(kube, ctx, ref, replicas, result)
    if deployment is None:
        deployment = read_deployment(kube, ref)
    changed = bool(result.changes)
    verb = "would change" if ctx.check else "changed"
    summary = "; ".join(c.summary() for c in result.changes)
    return ScaleOutcome(
        service=ref.service, replicas=replicas_of(deployment), changed=changed, changes=result.changes,
        warnings=result.warnings, extra={"deployment": ref.deployment, **rollout_counts(deployment), **result.data},
        msg=f"{verb} {summary}" if changed else f"deployment {ref.deployment!r} already at the wanted scale",
    )


def _scale_replicas(kube: Kube, ctx: StepContext, ref: ServiceRef, replicas: int, result: _Scaling) -> JSON | None:
    path = deployment_path(kube, ref.deployment, "scale")
    what = f"deployment {ref.deployment!r} scale"
    try:
        current = kube.get(path, what=what)
    except KubeApiError as exc:
        if not exc.not_found:
            raise
        raise missing(kube, exc, f"services.{ref.service}.deployment is {ref.deployment!r}") from exc
    before = int((current.get("spec") or {}).get("replicas") or 0)
    hpa = _controlling_hpa(kube, ref.deployment)  # the one that exists, whatever the inventory names
    if hpa:
        result.warnings.append(
            f"horizontalpodautoscaler {hpa!r} controls deployment {ref.deployment!r}: "
            f"it will override replicas={replicas} (set min_replicas/max_replicas instead)"
        )
    if before == replicas:
        return None
    result.changes.append(Change(f"{ref.service} replicas", str(before), str(replicas)))
    body = {"spec": {"replicas": replicas}}
    if ctx.check:
        kube.request("PATCH", path, body=body, patch="merge", dry_run=True, what=what)
        return None
    kube.request("PATCH", path, body=body, patch="merge", what=what)
    deployment = read_deployment(kube, ref)
    ctx.log(f"{ref.deployment}: replicas {before} -> {replicas}; waiting")
    timeout = float(ctx.timeout) if ctx.timeout else DEFAULT_TIMEOUT
    return wait_rollout(kube, deployment, timeout=timeout, cancel=ctx.cancel, log=ctx.log)


def _scale_hpa(
    kube: Kube, ctx: StepContext, ref: ServiceRef, min_replicas: int | None, max_replicas: int | None, result: _Scaling
) -> None:
    name = ref.require("hpa", "scale (min_replicas/max_replicas)", kube.target)
    version, hpa = _read_hpa(kube, ref, name)
    spec = hpa.get("spec") or {}
    new_min = min_replicas if min_replicas is not None else spec.get("minReplicas", 1)
    new_max = max_replicas if max_replicas is not None else spec.get("maxReplicas")
    if new_max is not None and new_min is not None and int(new_min) > int(new_max):
        raise TargetError(f"min_replicas {new_min} is above max_replicas {new_max} for horizontalpodautoscaler {name!r}")
    patch: dict[str, Any] = {}
    if min_replicas is not None and spec.get("minReplicas", 1) != min_replicas:
        patch["minReplicas"] = min_replicas
        result.changes.append(Change(f"{ref.service} hpa minReplicas", str(spec.get("minReplicas", 1)), str(min_replicas)))
    if max_replicas is not None and spec.get("maxReplicas") != max_replicas:
        patch["maxReplicas"] = max_replicas
        result.changes.append(Change(f"{ref.service} hpa maxReplicas", str(spec.get("maxReplicas")), str(max_replicas)))
    result.data["hpa"] = {"name": name, "min_replicas": new_min, "max_replicas": new_max}
    if patch:
        kube.request("PATCH", _hpa_path(kube, version, name), body={"spec": patch}, patch="merge", dry_run=ctx.check,
                     what=f"horizontalpodautoscaler {name!r}")
