"""`usage` on Kubernetes: CPU and memory per pod and container, what `kubectl top pods` shows.

From metrics.k8s.io when the cluster serves it (metrics-server), else from the
kubelet's own stats summary through the API server's node proxy
(`/api/v1/nodes/NODE/proxy/stats/summary`, one request per node the service runs on),
so a cluster without metrics-server still answers. Both give the container's working
set and its CPU rate (the summary's `usageNanoCores` is what metrics-server reads).
Limits come from the pods' specs. Read-only: runs in check mode too.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ajudaplay.errors import TargetError
from ajudaplay.outcomes import UsageOutcome
from ajudaplay.targets.base import StepContext
from ajudaplay.targets.kubernetes.api import JSON, Kube
from ajudaplay.targets.kubernetes.apierrors import KubeApiError
from ajudaplay.targets.kubernetes.objects import list_pods, read_deployment
from ajudaplay.targets.kubernetes.revisions import label_selector
from ajudaplay.targets.kubernetes.services import ServiceRef
from ajudaplay.targets.usage import Sample, usage_outcome

METRICS = "/apis/metrics.k8s.io/v1beta1"
SUMMARY = "kubelet stats/summary"
# metrics.k8s.io absent (404), its APIService down (503), or not granted (403): ask the kubelet.
FALL_BACK = (403, 404, 503)


def usage(kube: Kube, ctx: StepContext, ref: ServiceRef) -> UsageOutcome:
    """One row per measured container of the service's pods, with its limits; the pods without numbers."""
    deployment = read_deployment(kube, ref)
    pods = list_pods(kube, deployment)
    limits = {(p["metadata"]["name"], str(c.get("name"))): _limits(c)
              for p in pods for c in (p.get("spec") or {}).get("containers") or []}
    try:
        measured, source = _from_metrics_api(kube, deployment), "metrics.k8s.io"
    except KubeApiError as exc:
        if exc.status not in FALL_BACK:
            raise
        why = ("has no metrics.k8s.io API (metrics-server)" if exc.status == 404
               else f"refused metrics.k8s.io ({exc.api_message})")
        measured, source = _from_summaries(kube, ref, pods, why), SUMMARY
    names = {p["metadata"]["name"] for p in pods}
    samples = [Sample(pod, container, cpu, memory, *limits.get((pod, container), (None, None)))
               for (pod, container), (cpu, memory) in sorted(measured.items()) if pod in names]
    seen = {s.pod for s in samples}
    missing = sorted(names - seen)
    return usage_outcome(ref.service, samples, source, missing)


def quantity(text: Any) -> Decimal:
    """A Kubernetes quantity ("250m", "64Mi", "1234n", "1.5") as a number, with the client's parser."""
    from kubernetes.utils.quantity import parse_quantity

    try:
        value: Decimal = parse_quantity(text)  # type: ignore[no-untyped-call]
    except ValueError as exc:
        raise TargetError(f"not a Kubernetes quantity: {text!r}") from exc
    return value


def _limits(container: JSON) -> tuple[float | None, int | None]:
    given = ((container.get("resources") or {}).get("limits")) or {}
    cpu = float(quantity(given["cpu"]) * 1000) if given.get("cpu") else None
    memory = int(quantity(given["memory"])) if given.get("memory") else None
    return cpu, memory


def _from_metrics_api(kube: Kube, deployment: JSON) -> dict[tuple[str, str], tuple[float, int]]:
    """PodMetrics of the service's pods (selector server-side), as kubectl top reads them."""
    query = {"labelSelector": label_selector((deployment.get("spec") or {}).get("selector"))}
    listing = kube.get(f"{METRICS}/namespaces/{kube.namespace}/pods", query=query, what="pod metrics (metrics.k8s.io)")
    out: dict[tuple[str, str], tuple[float, int]] = {}
    for item in listing.get("items") or []:
        pod = str((item.get("metadata") or {}).get("name"))
        for c in item.get("containers") or []:
            used = c.get("usage") or {}
            cpu, memory = quantity(used.get("cpu") or "0"), quantity(used.get("memory") or "0")
            out[(pod, str(c.get("name")))] = (float(cpu * 1000), int(memory))
    return out


def _from_summaries(kube: Kube, ref: ServiceRef, pods: list[JSON], why: str) -> dict[tuple[str, str], tuple[float, int]]:
    """The kubelet's summary of each node the service's pods run on; `why`: what metrics.k8s.io said."""
    running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
    nodes = sorted({str(p["spec"]["nodeName"]) for p in running if (p.get("spec") or {}).get("nodeName")})
    out: dict[tuple[str, str], tuple[float, int]] = {}
    for node in nodes:
        try:
            summary = kube.get(f"/api/v1/nodes/{node}/proxy/stats/summary", what=f"the kubelet stats of node {node!r}")
        except KubeApiError as exc:
            raise TargetError(
                f"target {kube.target!r}: usage of {ref.service!r}: the cluster {why}, and the kubelet's stats "
                f"of node {node!r} could not be read: {exc.api_message}\n"
                "    hint: install metrics-server, or grant `get` on nodes/proxy to this user"
            ) from exc
        out.update(_summary_rows(summary, kube.namespace))
    return out


def _summary_rows(summary: JSON, namespace: str) -> dict[tuple[str, str], tuple[float, int]]:
    """(pod, container) -> (millicores, working-set bytes) for the namespace's pods the kubelet has numbers for."""
    out: dict[tuple[str, str], tuple[float, int]] = {}
    for pod in summary.get("pods") or []:
        ref: dict[str, Any] = pod.get("podRef") or {}
        if ref.get("namespace") != namespace:
            continue
        for c in pod.get("containers") or []:
            cpu, memory = c.get("cpu") or {}, c.get("memory") or {}
            if cpu.get("usageNanoCores") is None or memory.get("workingSetBytes") is None:
                continue  # just started: the kubelet has one sample, no rate yet
            out[(str(ref.get("name")), str(c.get("name")))] = (int(cpu["usageNanoCores"]) / 1e6,
                                                              int(memory["workingSetBytes"]))
    return out
