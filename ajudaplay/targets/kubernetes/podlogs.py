"""`logs` on Kubernetes: every pod of the service, as `kubectl logs` reads them (tail, since, previous).

One request per pod to the pods/log subresource (`tailLines`, `sinceSeconds`,
`previous`), each line prefixed with its pod's name, then filtered by `grep`.
`previous: true` reads the container's last terminated instance, the runbook's
`kubectl logs --previous` for a crash loop; a pod that has none is a warning
naming it, not a failure, since the other pods may have one.
"""

from __future__ import annotations

import re

from ajudaplay.targets.base import Result, StepContext
from ajudaplay.targets.kubernetes.api import Kube
from ajudaplay.targets.kubernetes.apierrors import KubeApiError
from ajudaplay.targets.kubernetes.objects import list_pods, pick_container, read_deployment
from ajudaplay.targets.kubernetes.services import ServiceRef


def logs(kube: Kube, ctx: StepContext, ref: ServiceRef, tail: int, grep: str | None, since: int | None = None,
         previous: bool = False) -> Result:
    """The last `tail` lines of the service container in each pod, filtered by `grep` (a regular expression)."""
    deployment = read_deployment(kube, ref)
    container = pick_container(deployment, ref, kube.target)
    try:
        pattern = re.compile(grep) if grep else None
    except re.error:
        pattern = re.compile(re.escape(grep or ""))
    query: dict[str, object] = {"container": container, "tailLines": tail}
    if since is not None:
        query["sinceSeconds"] = since
    if previous:
        query["previous"] = "true"
    per_pod: dict[str, list[str]] = {}
    result = Result()
    for pod in list_pods(kube, deployment):
        name = pod["metadata"]["name"]
        path = kube.ns_path("v1", "pods", name, "log")
        try:
            text = kube.text(path, query=query, what=f"logs of pod {name!r}")
        except KubeApiError as exc:
            result.warnings.append(f"pod {name}: {exc.api_message}")
            continue
        per_pod[name] = [line for line in text.splitlines() if pattern is None or pattern.search(line)]
    merged = [f"{pod} {line}" for pod, lines in per_pod.items() for line in lines]
    result.data = {"service": ref.service, "pods": per_pod, "lines": merged, "count": len(merged),
                   "stdout": "\n".join(merged), "previous": previous}
    which = "previous " if previous else ""
    result.msg = f"{len(merged)} lines from the {which}containers of {len(per_pod)} pods" + (
        f" matching {grep!r}" if grep else "")
    if previous and not per_pod:
        result.msg = f"no pod of service {ref.service!r} has a previous terminated container"
    return result
