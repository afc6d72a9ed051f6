"""`usage` on real pods: the test cluster has no metrics-server, so the numbers come from the kubelet's
stats summary through the API server's node proxy; checked against that summary read with kubectl, and
moving when the container fills a tmpfs (/dev/shm pages are charged to the container's memory cgroup).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from ajudaplay.errors import TargetError
from ajudaplay.targets.kubernetes import KubernetesTarget
from tests.infra.k8s.node import API_V1
from tests.kubernetes.conftest import NodeCluster, make_target, real_deployment_manifest, step

pytestmark = pytest.mark.kubernetes

MIB = 1048576


def kubelet_summary(cluster: NodeCluster, pod: str) -> dict[str, Any]:
    """The api container's stats in the kubelet's summary, read independently with kubectl."""
    node = cluster.get("pod", pod)["spec"]["nodeName"]
    raw = cluster.kubectl("get", "--raw", f"/api/v1/nodes/{node}/proxy/stats/summary").stdout
    [entry] = [p for p in json.loads(raw)["pods"] if p["podRef"] == {**p["podRef"], "name": pod, "namespace": cluster.namespace}]
    [container] = [c for c in entry["containers"] if c["name"] == "api"]
    return dict(container)


def measured(target: KubernetesTarget, check: bool = False) -> dict[str, Any]:
    result = target.usage(step(check=check), "api")
    assert not result.failed and not result.skipped and not result.changed, result
    data: dict[str, Any] = result.data
    return data


def test_usage_from_the_kubelet_summary_moves_with_memory(
        node_cluster: NodeCluster, node_target: KubernetesTarget, control_plane: Any) -> None:
    manifest = real_deployment_manifest("api", API_V1, replicas=1)
    manifest["spec"]["template"]["spec"]["containers"][0]["resources"] = {
        "limits": {"memory": "64Mi", "cpu": "500m"}, "requests": {"memory": "64Mi", "cpu": "500m"}}
    node_cluster.apply(manifest)
    node_cluster.kubectl("rollout", "status", "deployment/api", "--timeout=90s")
    [pod] = [p["metadata"]["name"] for p in node_cluster.get("pods", "-l", "app=api")["items"]]

    deadline = time.monotonic() + 60
    while not (data := measured(node_target, check=True))["pods"] and time.monotonic() < deadline:
        time.sleep(1)  # the kubelet needs two samples for a CPU rate
    assert node_cluster.kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1", check=False).returncode != 0
    assert data["source"] == "kubelet stats/summary" and data["missing"] == []
    [row] = data["pods"]
    assert (row["pod"], row["container"]) == (pod, "api")
    assert (row["memory_limit_bytes"], row["cpu_limit_millicores"]) == (64 * MIB, 500.0)
    assert 0 < row["memory_bytes"] < 16 * MIB and row["cpu_millicores"] >= 0
    assert row["memory_percent"] == round(100 * row["memory_bytes"] / (64 * MIB), 1)
    assert row["cpu_percent"] == round(100 * row["cpu_millicores"] / 500, 1)
    assert data["totals"]["memory_bytes"] == row["memory_bytes"] and data["totals"]["memory_limit_bytes"] == 64 * MIB
    kubelet = kubelet_summary(node_cluster, pod)
    assert abs(kubelet["memory"]["workingSetBytes"] - row["memory_bytes"]) < 4 * MIB

    node_cluster.kubectl("exec", pod, "-c", "api", "--", "sh", "-c", "head -c 30m /dev/zero > /dev/shm/ballast")
    deadline = time.monotonic() + 60
    while (grown := measured(node_target)["pods"][0]["memory_bytes"] - row["memory_bytes"]) < 28 * MIB:
        assert time.monotonic() < deadline, f"memory grew by {grown} bytes only"
        time.sleep(2)  # the kubelet's housekeeping samples every ~10 s
    after = measured(node_target)["pods"][0]
    assert after["memory_percent"] > 45.0
    assert abs(kubelet_summary(node_cluster, pod)["memory"]["workingSetBytes"] - after["memory_bytes"]) < 4 * MIB

    # a user who may read the namespace but not nodes/proxy, on a cluster without metrics-server: said plainly
    control_plane.grant_read(node_cluster.namespace)
    viewer = make_target(control_plane.restricted_kubeconfig, node_cluster.namespace, name="viewer")
    try:
        with pytest.raises(TargetError) as refused:
            viewer.usage(step(), "api")
    finally:
        viewer.close()
    text = str(refused.value)
    assert "no metrics.k8s.io API" in text and "nodes/proxy" in text and "forbidden" in text, text


class _MetricsServer:
    """Stands in for a cluster WITH metrics-server (the test cluster has none): the PodMetricsList kubectl top reads."""

    namespace = "prod"

    def __init__(self) -> None:
        self.paths: list[tuple[str, Any]] = []

    def get(self, path: str, *, query: Any = None, what: str = "") -> dict[str, Any]:
        self.paths.append((path, query))
        return {"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "items": [
            {"metadata": {"name": "api-1"}, "containers": [
                {"name": "api", "usage": {"cpu": "2500000n", "memory": "30Mi"}},
                {"name": "proxy", "usage": {"cpu": "1m", "memory": "2048Ki"}}]}]}


def test_metrics_api_quantities() -> None:
    """metrics.k8s.io's quantities (nanocores, Ki/Mi) become millicores and bytes; the selector is sent server-side."""
    from ajudaplay.targets.kubernetes.usage import _from_metrics_api

    server = _MetricsServer()
    rows = _from_metrics_api(server, {"spec": {"selector": {"matchLabels": {"app": "api"}}}})  # type: ignore[arg-type]
    assert rows == {("api-1", "api"): (2.5, 30 * MIB), ("api-1", "proxy"): (1.0, 2 * MIB)}
    assert server.paths == [("/apis/metrics.k8s.io/v1beta1/namespaces/prod/pods", {"labelSelector": "app=api"})]
