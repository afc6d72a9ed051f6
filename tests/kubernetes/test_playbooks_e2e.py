"""The shipped playbooks, unchanged, through `ajudaplay run` on real pods (the test kubelet); kubectl checks.

Images are the Compose tests' busybox images (readiness: their wget on /health); `unhealthy` makes a
real ProgressDeadlineExceeded. cert-manager stays simulated (issuing is not a node's job).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra.k8s.node import API_UNHEALTHY as NEVER_READY_IMAGE
from tests.infra.k8s.node import API_V1, API_V2, API_V3, NGINX_V1
from tests.kubernetes.conftest import NodeCluster as Cluster

pytestmark = pytest.mark.kubernetes

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cluster(node_cluster: Cluster) -> Cluster:
    """Real pods in this module (overrides the simulated-node `cluster` of conftest.py)."""
    return node_cluster


def write_inventory(path: Path, kubeconfig: Path | str, namespace: str, name: str = "cluster", **extra: Any) -> Path:
    doc = {
        "vars": {"image_repos": {"api": "ajudaplay-test/api"}},
        "targets": {name: {
            "kubernetes": {"kubeconfig": str(kubeconfig), "namespace": namespace, **extra},
            "services": {"api": {"deployment": "api", "container": "api", "hpa": "api-hpa", "configmap": "api-config",
                                 "secret": "api-env"},
                         "nginx": {"deployment": "nginx", "container": "nginx", "certificate": "site-tls",
                                   "tls_secret": "site-tls", "configmap": "nginx-config"}},
        }},
        "groups": {"api": [name]},
    }
    path.write_text(yaml.safe_dump(doc))
    return path


def ajudaplay(*args: str, cwd: Path = ROOT, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, AJUDAPLAY_JOURNAL=str(Path(cwd if cwd != ROOT else "/tmp") / "journal-k8s-e2e.sqlite"),
               NO_COLOR="1", COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "ajudaplay", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


def run(playbook: str, inventory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return ajudaplay("run", str(ROOT / "playbooks" / playbook), "-i", str(inventory), "--no-journal", *args)


def image(cluster: Cluster, name: str = "api") -> str:
    return str(cluster.get("deployment", name)["spec"]["template"]["spec"]["containers"][0]["image"])


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_deploy_history_rollback_twice_and_to_revision(cluster: Cluster, tmp_path: Path) -> None:
    inv = write_inventory(tmp_path / "inv.yml", cluster.kubeconfig, cluster.namespace)
    cluster.deployment("api", API_V1)
    out = ok(run("deploy.yml", inv, "-e", f"image={API_V2}", "--output", "json"))
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    statuses = {(e["task"], e["target"]): e["status"] for e in events if e["event"] == "task_result"}
    assert statuses[("Deploy the service", "cluster")] == "changed", statuses
    assert events[-1]["event"] == "run_end" and events[-1]["stats"]["cluster"]["failed"] == 0
    assert image(cluster) == API_V2
    ok(run("deploy.yml", inv, "-e", "version=v3"))
    assert image(cluster) == API_V3
    assert cluster.revisions("api") == [(1, API_V1), (2, API_V2), (3, API_V3)]

    # rollback twice in a row: what `kubectl rollout undo` twice leaves (test_rollouts.py compares the two
    # side by side on a twin Deployment; here the playbook's path, with kubectl's known answer)
    ok(run("rollback.yml", inv))
    assert image(cluster) == API_V2 and cluster.revisions("api") == [(1, API_V1), (3, API_V3), (4, API_V2)]
    ok(run("rollback.yml", inv))
    assert image(cluster) == API_V3 and cluster.revisions("api") == [(1, API_V1), (4, API_V2), (5, API_V3)]

    ok(run("rollback.yml", inv, "-e", "revision=1"))
    assert image(cluster) == API_V1
    status = cluster.kubectl("rollout", "status", "deployment/api", "--timeout=5s").stdout
    assert "successfully rolled out" in status

    bad = run("rollback.yml", inv, "-e", "revision=42")
    assert bad.returncode == 2, bad.stdout + bad.stderr
    assert "unable to find specified revision 42" in bad.stdout + bad.stderr
    assert "Traceback" not in bad.stdout + bad.stderr


def test_atomic_deploy_of_never_ready_image_rolls_back_and_exits_non_zero(cluster: Cluster, tmp_path: Path) -> None:
    inv = write_inventory(tmp_path / "inv.yml", cluster.kubeconfig, cluster.namespace)
    cluster.deployment("api", API_V1, deadline=5)
    proc = run("deploy.yml", inv, "-e", f"image={NEVER_READY_IMAGE}", "-e", "deploy_timeout=90")
    text = proc.stdout + proc.stderr
    assert proc.returncode == 2, text
    assert "rolled back" in text.lower(), text
    assert image(cluster) == API_V1
    assert "successfully rolled out" in cluster.kubectl("rollout", "status", "deployment/api", "--timeout=30s").stdout


def test_check_mode_changes_nothing(cluster: Cluster, tmp_path: Path) -> None:
    inv = write_inventory(tmp_path / "inv.yml", cluster.kubeconfig, cluster.namespace)
    cluster.deployment("api", API_V1)
    rv = cluster.get("deployment", "api")["metadata"]["resourceVersion"]
    proc = run("deploy.yml", inv, "-e", f"image={API_V2}", "--check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert cluster.get("deployment", "api")["metadata"]["resourceVersion"] == rv
    assert cluster.kubectl("get", "lease", "ajudaplay-lock", check=False).returncode != 0


def test_scale_and_hpa_bounds_and_restart(cluster: Cluster, tmp_path: Path) -> None:
    inv = write_inventory(tmp_path / "inv.yml", cluster.kubeconfig, cluster.namespace)
    cluster.deployment("api", API_V1, replicas=1)
    ok(run("scale.yml", inv, "-e", "replicas=3"))
    dep = cluster.get("deployment", "api")
    assert dep["spec"]["replicas"] == 3 and dep["status"]["availableReplicas"] == 3
    cluster.apply({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "api-hpa"},
                   "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"},
                            "minReplicas": 3, "maxReplicas": 4}})
    ok(run("scale.yml", inv, "-e", "min_replicas=3", "-e", "max_replicas=10"))
    assert cluster.get("hpa", "api-hpa")["spec"]["maxReplicas"] == 10
    ok(run("restart.yml", inv))
    assert "kubectl.kubernetes.io/restartedAt" in cluster.get("deployment", "api")["spec"]["template"]["metadata"]["annotations"]


def test_config_change_restarts_unchanged_does_not(cluster: Cluster, tmp_path: Path) -> None:
    inv = write_inventory(tmp_path / "inv.yml", cluster.kubeconfig, cluster.namespace)
    cluster.deployment("nginx", NGINX_V1, container="nginx")
    ok(run("config.yml", inv))
    assert "default.conf" in cluster.get("configmap", "nginx-config")["data"]
    assert len(cluster.revisions("nginx")) == 2
    ok(run("config.yml", inv))
    assert len(cluster.revisions("nginx")) == 2


def test_tls_secret_cert_renew_playbook(cluster: Cluster, tmp_path: Path, control_plane: Any) -> None:
    inv = write_inventory(tmp_path / "inv.yml", cluster.kubeconfig, cluster.namespace)
    cluster.deployment("nginx", NGINX_V1, container="nginx")
    crt, key = control_plane.ca().issue("site.example.test", ["site.example.test"])
    (tmp_path / "site.crt").write_bytes(crt)
    (tmp_path / "site.key").write_bytes(key)
    ok(run("cert-renew.yml", inv, "-e", f"cert_file={tmp_path / 'site.crt'}", "-e", f"key_file={tmp_path / 'site.key'}"))
    assert cluster.get("secret", "site-tls")["type"] == "kubernetes.io/tls"
    assert len(cluster.revisions("nginx")) == 2  # the ingress controller was restarted


def test_concurrent_runs_and_the_lease(cluster: Cluster, tmp_path: Path) -> None:
    inv = write_inventory(tmp_path / "inv.yml", cluster.kubeconfig, cluster.namespace)
    cluster.deployment("api", API_V1, deadline=600)
    results: dict[str, subprocess.CompletedProcess[str]] = {}
    # the first run holds the Lease while its rollout of a never-ready image waits
    slow = threading.Thread(target=lambda: results.__setitem__("slow", run(
        "deploy.yml", inv, "-e", f"image={NEVER_READY_IMAGE}", "-e", "deploy_timeout=8", "-e", "atomic=false")))
    slow.start()
    for _ in range(100):
        if cluster.kubectl("get", "lease", "ajudaplay-lock", check=False).returncode == 0:
            break
        threading.Event().wait(0.1)
    else:
        raise AssertionError(f"the first run never took the Lease: {results}")
    second = run("deploy.yml", inv, "-e", f"image={API_V2}", "--lock-wait", "0")
    slow.join(60)
    assert second.returncode == 4, second.stdout + second.stderr
    assert "locked by" in second.stdout + second.stderr
    assert results["slow"].returncode == 2
    assert cluster.kubectl("get", "lease", "ajudaplay-lock", check=False).returncode != 0  # released on failure
    assert image(cluster) == NEVER_READY_IMAGE  # the second run changed nothing


def test_cert_manager_renewal_through_cert_renew_playbook(cluster: Cluster, tmp_path: Path, cert_manager: Any) -> None:
    inv = write_inventory(tmp_path / "inv.yml", cluster.kubeconfig, cluster.namespace)
    cluster.deployment("nginx", NGINX_V1, container="nginx")
    cluster.apply({"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "site-tls"},
                   "spec": {"secretName": "site-tls", "dnsNames": ["site.example.test"],
                            "issuerRef": {"name": "test-ca", "kind": "Issuer"}}})
    import time

    for _ in range(100):
        if (cluster.get("certificate", "site-tls").get("status") or {}).get("revision") == 1:
            break
        time.sleep(0.1)
    ok(run("cert-renew.yml", inv))
    assert cluster.get("certificate", "site-tls")["status"]["revision"] == 2
    assert len(cluster.revisions("nginx")) == 2  # the ingress controller was restarted
    short = run("cert-renew.yml", inv, "-e", "min_days=365")
    assert short.returncode == 2 and "fewer than min_days=365" in short.stdout + short.stderr
