"""triage-errors.yml and triage-latency.yml, unchanged, through `ajudaplay run` on real pods (the test kubelet).

One Deployment of the metricsapi image (readiness on /health, CPU and memory limits) behind a Service,
failing half its requests and taking 2 s per request, set with `kubectl exec ... metricsctl`. A real
Prometheus on loopback scrapes the pod through the API server's pod proxy (https with the test CA and
a bearer token), never the pod's bridge address; the inventory names it as `metrics.prometheus`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.infra.k8s.controlplane import ControlPlane
from tests.infra.prometheus.server import PrometheusServer, kubernetes_pod_job
from tests.kubernetes.conftest import NodeCluster, node_cluster, real_deployment_manifest  # noqa: F401 - fixture
from tests.metrics.conftest import FAIL_PER_TICK, IMAGE, P95, P95_QUERY, RATIO_QUERY, SLOW_MS, ensure_image
from tests.metrics.triage import run_triage

pytestmark = pytest.mark.kubernetes

ROOT = Path(__file__).resolve().parents[2]
AJUDAPLAY = str(ROOT / ".venv" / "bin" / "ajudaplay")


def test_triage_errors_and_latency_on_real_pods(node_cluster: NodeCluster, control_plane: ControlPlane,  # noqa: F811
                                                tmp_path: Path) -> None:
    ensure_image()
    cluster = node_cluster
    manifest = real_deployment_manifest("api", IMAGE, replicas=1)
    manifest["spec"]["template"]["spec"]["containers"][0]["resources"] = {
        "limits": {"cpu": "500m", "memory": "64Mi"}}
    cluster.apply(manifest)
    cluster.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"},
                   "spec": {"selector": {"app": "api"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})
    cluster.kubectl("rollout", "status", "deployment/api", "--timeout=90s")
    (pod,) = [p["metadata"]["name"] for p in cluster.get("pods", "-l", "app=api")["items"]
              if not p["metadata"].get("deletionTimestamp")]
    cluster.kubectl("exec", pod, "-c", "api", "--", "metricsctl", "fail", str(FAIL_PER_TICK))
    cluster.kubectl("exec", pod, "-c", "api", "--", "metricsctl", "slow", str(SLOW_MS))
    cp = control_plane
    with PrometheusServer(tmp_path / "prometheus") as prometheus:
        prometheus.scrape(kubernetes_pod_job("k8s", cp.server, cp.ca_file, cp.token, cluster.namespace, pod))
        prometheus.wait_for(RATIO_QUERY, lambda v: v is not None and v > 0.05, timeout=60)
        prometheus.wait_for(P95_QUERY, lambda v: v is not None and v > 1.0, timeout=30)
        inventory = tmp_path / "inv.yml"
        inventory.write_text(yaml.safe_dump({
            "vars": {"metrics": {"prometheus": prometheus.url}},
            "targets": {"cluster": {
                "kubernetes": {"kubeconfig": str(cluster.kubeconfig), "namespace": cluster.namespace},
                "services": {"api": {"deployment": "api", "container": "api"}}}},
        }))

        run = run_triage(AJUDAPLAY, ROOT / "playbooks" / "triage-errors.yml", inventory)
        assert run.rc == 0, run.text
        errors = run.data("Error lines of every pod/container in the window")
        assert list(errors["sources"]) == [pod] and errors["sources"][pod] == errors["count"] > 0
        assert errors["patterns"][0]["pattern"].startswith("<ts> ERROR GET /api/orders/<n> -> <n>: upstream timed")
        verdict = run.verdict("cluster")
        assert verdict.startswith("high error rate: 5xx ratio 50.0% over 5m (max 5.0%); "), verdict
        assert f"error lines in 15m ({errors['count']} from {pod}), top pattern " in verdict

        run = run_triage(AJUDAPLAY, ROOT / "playbooks" / "triage-latency.yml", inventory, "--check")
        assert run.rc == 0, run.text
        assert run.data("p95 latency over 5 minutes (Prometheus)")["value"] == pytest.approx(P95, abs=0.02)
        assert [e["where"] for e in run.data("Replicas that take traffic")["ready"]] == [pod]
        verdict = run.verdict("cluster")
        assert verdict.startswith("slow with capacity to spare: p95 2.4"), verdict
        assert "1 ready, 0 not ready" in verdict and "database none" in verdict, verdict
