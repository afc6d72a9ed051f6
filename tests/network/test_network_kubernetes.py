"""network.yml and dns.yml, unchanged, on the real test node (real pods, real Endpoints controller).

One test, one namespace: a Deployment `api` (one Ready pod) and a bare pod of the never-Ready image,
both selected by the Service `api`; an Ingress routing api.example.test to that Service and one
routing elsewhere (not counted); the inventory adds a `hosts:` name. network.yml then shows the
ready and the not-ready address, the Service port, its internal URL, both hosts, and `http
from: service` reaching the pod's own loopback through the API server's exec with busybox wget.
dns.yml resolves the public name from here through a local DNS server (tests/infra/dns, a
stand-in for a public resolver) and inside the pod, whose resolver answers nothing here (no
cluster DNS on the test node): the two views disagree, and the verdict says so.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra.dns.server import DNSServer
from tests.infra.k8s.node import API_UNHEALTHY, API_V1, health_probe, real_pod_placement
from tests.kubernetes.conftest import NodeCluster, node_cluster, real_deployment_manifest  # noqa: F401 - fixture
from tests.kubernetes.test_playbooks_e2e import run

pytestmark = pytest.mark.kubernetes


def results(proc: Any, task: str) -> list[dict[str, Any]]:
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    found = [e for e in events if e.get("event") == "task_result" and e["task"].startswith(task)]
    assert found, f"no result for {task!r}:\n{proc.stdout}\n{proc.stderr}"
    return found


def provision(cluster: NodeCluster) -> tuple[str, str]:
    """The Deployment (Ready), a never-Ready pod beside it, the Service over both, two Ingresses."""
    manifest = real_deployment_manifest("api", API_V1, replicas=1)
    manifest["spec"]["template"]["metadata"]["labels"]["tier"] = "web"
    cluster.apply(manifest)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "api-extra", "labels": {"tier": "web"}},
           "spec": {**real_pod_placement(), "terminationGracePeriodSeconds": 1,
                    "containers": [{"name": "api", "image": API_UNHEALTHY, "readinessProbe": health_probe()}]}}
    cluster.apply(pod)
    cluster.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"},
                   "spec": {"selector": {"tier": "web"},
                            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}})
    cluster.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "other"},
                   "spec": {"selector": {"app": "other"}, "ports": [{"port": 81, "targetPort": 8080}]}})
    for name, host, backend in (("api", "api.example.test", "api"), ("other", "other.example.test", "other")):
        cluster.apply({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name},
                       "spec": {"rules": [{"host": host, "http": {"paths": [{
                           "path": "/", "pathType": "Prefix",
                           "backend": {"service": {"name": backend, "port": {"number": 80}}}}]}}]}})
    cluster.kubectl("rollout", "status", "deployment/api", "--timeout=90s")
    deadline = time.monotonic() + 60
    while True:  # the Endpoints controller lists the extra pod once it has an IP
        subsets = cluster.get("endpoints", "api").get("subsets") or []
        if any(s.get("addresses") for s in subsets) and any(s.get("notReadyAddresses") for s in subsets):
            break
        assert time.monotonic() < deadline, f"endpoints never showed both pods: {subsets}"
        time.sleep(0.5)
    [ready_pod] = [p["metadata"]["name"] for p in cluster.get("pods", "-l", "app=api")["items"]]
    return ready_pod, "api-extra"


def test_network_and_dns_playbooks_on_the_real_node(node_cluster: NodeCluster, tmp_path: Path) -> None:  # noqa: F811
    ready_pod, extra_pod = provision(node_cluster)
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"targets": {"cluster": {
        "kubernetes": {"kubeconfig": str(node_cluster.kubeconfig), "namespace": node_cluster.namespace},
        "services": {"api": {"deployment": "api", "container": "api", "hosts": ["status.example.test"]}}}}}))

    proc = run("network.yml", inventory, "--output", "json", "-e", '{"inside_urls": ["http://127.0.0.1:8080/health"]}')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [ep] = results(proc, "Endpoints")
    got = ep["data"]
    assert [r["where"] for r in got["ready"]] == [ready_pod] and [r["where"] for r in got["not_ready"]] == [extra_pod]
    assert {r["port"] for r in got["ready"] + got["not_ready"]} == {8080} and all(r["address"] for r in got["ready"])
    assert got["ports"] == [{"name": "http", "port": 80, "target_port": 8080, "protocol": "TCP", "published": []}]
    assert got["internal_urls"] == [f"http://api.{node_cluster.namespace}.svc:80"]
    assert got["hosts"] == ["api.example.test", "status.example.test"]
    assert got["services"] == ["api"] and got["ingresses"] == ["api"]
    [inside] = results(proc, "From inside the service, its internal URLs")
    assert inside["status"] == "ok", inside["msg"]
    assert inside["data"]["status"] == 200 and inside["data"]["tool"] == "wget"
    [verdict] = results(proc, "Verdict")
    assert verdict["msg"].startswith(f"network api: problem: {extra_pod} not ready"), verdict["msg"]
    assert "next: triage-wont-start.yml" in verdict["msg"]

    with DNSServer({"api.example.test": {"A": ["127.0.0.1"]}}) as server:
        proc = run("dns.yml", inventory, "--output", "json", "-e", f"nameserver={server.address}", "-e", "types=A",
                   "-e", '{"dns_names": ["api.example.test"]}', "-e", "dns_timeout=1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [resolved] = results(proc, "Resolve")
    assert resolved["status"] == "ok", resolved["msg"]
    got = resolved["data"]
    assert got["answers"] == {"api.example.test": {"A": {"status": "ok", "answers": ["127.0.0.1"]}}}
    assert got["from_service"]["api.example.test"]["A"]["status"] in ("timeout", "error", "nxdomain")
    assert got["agree"] is False and [m["name"] for m in got["mismatches"]] == ["api.example.test"]
    [verdict] = results(proc, "Verdict")
    assert verdict["msg"].startswith("dns api: problem: api.example.test from api: A "), verdict["msg"]
