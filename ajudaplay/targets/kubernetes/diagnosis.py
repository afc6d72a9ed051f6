"""Why a service will not start (Kubernetes): `status.why`, what `kubectl describe` would make you read.

Gathered from the pods' container states (waiting reasons such as CrashLoopBackOff,
ErrImagePull/ImagePullBackOff, CreateContainerConfigError; the last termination with
its exit code and reason, OOMKilled included), unscheduled pods, a ReplicaFailure
condition, and the non-Normal events of the Deployment, its live ReplicaSets and its
pods (FailedScheduling, BackOff, Unhealthy, FailedMount, FailedCreate...). Events are
read as `kubectl describe` reads them: core/v1 events with a field selector on the
involved object's uid, name and namespace, one request per object.

Every entry has the same keys on both modes (see targets/problems.py), so one playbook
tests `status.why` the same way on Kubernetes and Compose.
"""

from __future__ import annotations

import re
from typing import Any

from ajudaplay.targets.kubernetes.api import JSON, Kube
from ajudaplay.targets.kubernetes.apierrors import KubeApiError
from ajudaplay.targets.kubernetes.objects import list_owned_replicasets
from ajudaplay.targets.problems import Problem, ordered

# Waiting reasons of a container on its normal way up: not a problem.
STARTING = frozenset({"ContainerCreating", "PodInitializing"})
# Event reasons that never keep a pod from starting. MissingClusterDNS: the kubelet has no
# cluster DNS address and starts the pod with the node's resolv.conf instead (it repeats on
# every pod of such a node, healthy or not).
NOTICES = frozenset({"MissingClusterDNS"})
EVENT_LIMIT = 500  # per object, as kubectl describe asks
_FIELD_CONTAINER = re.compile(r"^spec\.(?:init|ephemeral)?[cC]ontainers\{([^}]*)\}$")


def why(kube: Kube, deployment: JSON, pods: list[JSON]) -> tuple[list[dict[str, Any]], list[str]]:
    """The problems of the service and warnings about what could not be read (an events list refused)."""
    found: list[Problem] = [*_deployment_conditions(deployment)]
    for pod in pods:
        found += _pod_states(pod)
    objects: list[tuple[str, JSON]] = [("Deployment", deployment)]
    try:
        objects += [("ReplicaSet", rs) for rs in list_owned_replicasets(kube, deployment) if _live(rs)]
    except KubeApiError as exc:
        return ordered(found), [f"why: cannot list the ReplicaSets of {_name(deployment)!r}: {exc.api_message}"]
    objects += [("Pod", pod) for pod in pods]
    warnings: list[str] = []
    for kind, obj in objects:
        try:
            found += _events(kube, kind, obj)
        except KubeApiError as exc:
            warnings.append(f"why: cannot read the events of {kind} {_name(obj)!r}: {exc.api_message}")
            break  # RBAC refuses them all alike; one warning says it
    return ordered(found), warnings


def _name(obj: JSON) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _live(rs: JSON) -> bool:
    """A ReplicaSet that wants or still has pods (the old revisions at 0 only repeat history)."""
    return int((rs.get("spec") or {}).get("replicas") or 0) > 0 or int((rs.get("status") or {}).get("replicas") or 0) > 0


def _deployment_conditions(deployment: JSON) -> list[Problem]:
    """ReplicaFailure=True: the ReplicaSet could not create pods (quota, admission, a missing ServiceAccount)."""
    out = []
    for cond in (deployment.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "ReplicaFailure" and cond.get("status") == "True":
            out.append(Problem(object=f"Deployment/{_name(deployment)}", pod=None, container=None,
                               reason=str(cond.get("reason") or "ReplicaFailure"), message=str(cond.get("message") or ""),
                               last_seen=cond.get("lastUpdateTime") or cond.get("lastTransitionTime"), source="condition"))
    return out


def _pod_states(pod: JSON) -> list[Problem]:
    """Unscheduled pods, and for every container: waiting (not just starting) and the last termination."""
    name = _name(pod)
    status = pod.get("status") or {}
    out: list[Problem] = []
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            out.append(Problem(object=f"Pod/{name}", pod=name, container=None, reason=str(cond.get("reason") or "Unschedulable"),
                               message=str(cond.get("message") or ""), last_seen=cond.get("lastTransitionTime"),
                               source="condition"))
    for c in [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]:
        container = str(c.get("name"))
        restarts = int(c.get("restartCount") or 0)
        state, last = c.get("state") or {}, (c.get("lastState") or {}).get("terminated")
        waiting, terminated = state.get("waiting"), state.get("terminated")
        if waiting and waiting.get("reason") not in STARTING:
            out.append(Problem(
                object=f"Pod/{name}", pod=name, container=container, reason=str(waiting.get("reason") or "Waiting"),
                message=str(waiting.get("message") or ""), exit_code=_code(last), count=max(restarts, 1),
                last_seen=(last or {}).get("finishedAt"), source="waiting"))
        for term in (terminated, last):
            if term and _code(term) != 0:  # exit 0 explains nothing (a waiting entry above carries it on)
                out.append(Problem(
                    object=f"Pod/{name}", pod=name, container=container, reason=str(term.get("reason") or "Terminated"),
                    message=str(term.get("message") or "").strip() or f"exited with code {_code(term)}",
                    exit_code=_code(term), count=max(restarts, 1), last_seen=term.get("finishedAt"), source="terminated"))
    return out


def _code(term: JSON | None) -> int | None:
    if not term or term.get("exitCode") is None:
        return None
    return int(term["exitCode"])


def _events(kube: Kube, kind: str, obj: JSON) -> list[Problem]:
    """The object's events that are not Normal, found as kubectl describe finds them."""
    meta = obj.get("metadata") or {}
    selector = ",".join(f"involvedObject.{k}={v}" for k, v in
                        (("uid", meta.get("uid")), ("name", meta.get("name")), ("namespace", kube.namespace)))
    listing = kube.get(kube.ns_path("v1", "events"), query={"fieldSelector": selector, "limit": EVENT_LIMIT},
                       what=f"events of {kind} {meta.get('name')!r}")
    settled = _ready_since(obj) if kind == "Pod" else None
    out = []
    for event in listing.get("items") or []:
        if event.get("type") == "Normal" or event.get("reason") in NOTICES:
            continue
        series = event.get("series") or {}
        seen = series.get("lastObservedTime") or event.get("lastTimestamp") or event.get("eventTime") \
            or event.get("firstTimestamp")
        if settled and seen and str(seen)[:19] <= settled[:19]:
            continue  # before the pod became Ready (a readiness probe failing while it started): explains nothing now
        field_path = str((event.get("involvedObject") or {}).get("fieldPath") or "")
        match = _FIELD_CONTAINER.match(field_path)
        out.append(Problem(
            object=f"{kind}/{meta.get('name')}", pod=meta.get("name") if kind == "Pod" else None,
            container=match.group(1) if match else None, reason=str(event.get("reason") or ""),
            message=str(event.get("message") or event.get("note") or "").strip(),
            count=int(series.get("count") or event.get("count") or 1), last_seen=seen, source="event"))
    return out


def _ready_since(pod: JSON) -> str | None:
    """When a Ready pod became Ready (RFC 3339), else None."""
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready" and cond.get("status") == "True":
            return str(cond.get("lastTransitionTime") or "") or None
    return None
