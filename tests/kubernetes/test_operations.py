"""scale + HPA bounds, config/secret, certificates, status, RBAC refusals, on real pods (the test kubelet).

cert-manager stays simulated (CertManagerSimulator: issuing is not a node's job); every pod is real.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from ajudaplay.errors import InvalidInput, TargetError
from ajudaplay.targets.base import CertificateRequest
from ajudaplay.targets.kubernetes import KubernetesTarget
from tests.infra.k8s.node import API_V1, NGINX_V1
from tests.kubernetes.conftest import NodeCluster as Cluster
from tests.kubernetes.conftest import make_target, step

pytestmark = pytest.mark.kubernetes


@pytest.fixture
def cluster(node_cluster: Cluster) -> Cluster:
    """Real pods in this module (overrides the simulated-node `cluster` of conftest.py)."""
    return node_cluster


@pytest.fixture
def target(node_target: KubernetesTarget) -> KubernetesTarget:
    return node_target


def _hpa(min_r: int, max_r: int) -> dict[str, Any]:
    return {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "api-hpa"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"},
                     "minReplicas": min_r, "maxReplicas": max_r, "targetCPUUtilizationPercentage": 80}}


def test_scale_replicas_and_hpa_bounds(cluster: Cluster, target: KubernetesTarget) -> None:
    cluster.deployment("api", API_V1, replicas=1)
    result = target.scale(step(), "api", 3, None, None)
    assert result.changed and result.data["replicas"]["available"] == 3 and not result.warnings
    assert cluster.get("deployment", "api")["spec"]["replicas"] == 3
    assert not target.scale(step(), "api", 3, None, None).changed

    cluster.apply(_hpa(1, 4))
    result = target.scale(step(), "api", None, 2, 10)
    assert result.changed and {c.what for c in result.changes} == {"api hpa minReplicas", "api hpa maxReplicas"}
    hpa = cluster.get("hpa", "api-hpa")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 10)

    check = target.scale(step(check=True), "api", 1, None, 12)
    assert check.changed and any("override" in w for w in check.warnings)
    assert cluster.get("hpa", "api-hpa")["spec"]["maxReplicas"] == 10
    assert cluster.get("deployment", "api")["spec"]["replicas"] == 3

    with pytest.raises(TargetError, match="min_replicas 11 is above max_replicas 10"):
        target.scale(step(), "api", None, 11, None)


def test_config_change_restarts_unchanged_does_not(cluster: Cluster, target: KubernetesTarget) -> None:
    cluster.deployment("api", API_V1)
    files = {"nginx.conf": b"worker_processes 1;\n", "app.json": b'{"a": 1}\n'}
    created = target.config(step(), "api", files, restart=True)
    assert created.changed and created.data["restarted"]
    assert cluster.get("configmap", "api-config")["data"] == {k: v.decode() for k, v in files.items()}
    revisions = cluster.revisions("api")
    assert len(revisions) == 2

    same = target.config(step(), "api", files, restart=True)
    assert not same.changed and not same.data["restarted"]
    assert cluster.revisions("api") == revisions

    files["nginx.conf"] = b"worker_processes 2;\n"
    changed = target.config(step(), "api", files, restart=True)
    assert changed.changed and [c.what for c in changed.changes][0] == "configmap api-config nginx.conf"
    assert "-worker_processes 1;" in changed.changes[0].unified
    assert len(cluster.revisions("api")) == 3

    rv = cluster.get("configmap", "api-config")["metadata"]["resourceVersion"]
    dry = target.config(step(check=True), "api", {"nginx.conf": b"x\n"}, restart=True)
    assert dry.changed
    assert cluster.get("configmap", "api-config")["metadata"]["resourceVersion"] == rv


def test_secret_values_never_shown(cluster: Cluster, target: KubernetesTarget) -> None:
    cluster.deployment("api", API_V1)
    values = {"TELEGRAM_TOKEN": "s3cr3t-token-value", "DB_PASSWORD": "hunter2-very-secret"}
    result = target.secret(step(), "api", values, restart=False)
    assert result.changed
    stored = cluster.get("secret", "api-env")["data"]
    assert base64.b64decode(stored["TELEGRAM_TOKEN"]).decode() == values["TELEGRAM_TOKEN"]
    text = json.dumps([result.msg, [c.summary() + c.unified for c in result.changes], result.data], default=str)
    assert all(v not in text for v in values.values())
    assert not target.secret(step(), "api", values, restart=False).changed
    rotated = target.secret(step(), "api", dict(values, DB_PASSWORD="new-password-123"), restart=True)
    assert [c.what for c in rotated.changes][0] == "secret api-env DB_PASSWORD" and rotated.data["restarted"]
    assert "new-password-123" not in json.dumps([rotated.msg, [c.summary() for c in rotated.changes]])


def test_cert_manager_renewal_like_cmctl(cluster: Cluster, target: KubernetesTarget, cert_manager: Any) -> None:
    cluster.deployment("nginx", NGINX_V1, container="nginx")
    cluster.apply({"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "api-tls"},
                   "spec": {"secretName": "api-tls", "dnsNames": ["api.example.test"],
                            "issuerRef": {"name": "test-ca", "kind": "Issuer"}}})
    first = cluster.get("certificate", "api-tls")
    for _ in range(100):
        first = cluster.get("certificate", "api-tls")
        if (first.get("status") or {}).get("revision"):
            break
        import time
        time.sleep(0.1)
    revision = first["status"]["revision"]

    status = target.certificate(step(), CertificateRequest(service="api"))
    assert status.data["ready"] and status.data["revision"] == revision and not status.changed
    assert status.data["days_left"] >= 80

    too_close = target.certificate(step(), CertificateRequest(service="api", min_days=120))
    assert too_close.failed and "min_days=120" in too_close.msg

    renewed = target.certificate(step(), CertificateRequest(service="api", renew=True, reload="nginx", timeout=60))
    assert renewed.changed and not renewed.failed, renewed.msg
    assert renewed.data["revision"] == revision + 1
    after = cluster.get("certificate", "api-tls")
    assert after["status"]["revision"] == revision + 1
    assert cluster.revisions("nginx")[-1][0] == 2  # the serving Deployment was restarted


def test_tls_secret_from_files_validated(cluster: Cluster, target: KubernetesTarget, control_plane: Any, tmp_path: Path) -> None:
    cluster.deployment("nginx", NGINX_V1, container="nginx")
    ca = control_plane.ca()
    crt, key = ca.issue("api.example.test", ["api.example.test"])
    (tmp_path / "tls.crt").write_bytes(crt)
    (tmp_path / "tls.key").write_bytes(key)
    request = CertificateRequest(service="api", cert_file=Path("tls.crt"), key_file=Path("tls.key"), reload="nginx", min_days=10)
    result = target.certificate(step(base_dir=tmp_path), request)
    assert result.changed and not result.failed, result.msg
    secret = cluster.get("secret", "api-tls")
    assert secret["type"] == "kubernetes.io/tls" and base64.b64decode(secret["data"]["tls.crt"]) == crt
    assert len(cluster.revisions("nginx")) == 2
    assert not target.certificate(step(base_dir=tmp_path), request).changed

    _, other_key = ca.issue("other.example.test", ["other.example.test"])
    (tmp_path / "other.key").write_bytes(other_key)
    with pytest.raises(InvalidInput, match="does not match"):
        target.certificate(step(base_dir=tmp_path), CertificateRequest(
            service="api", cert_file=Path("tls.crt"), key_file=Path("other.key")))
    assert base64.b64decode(cluster.get("secret", "api-tls")["data"]["tls.key"]) == key


def test_status_agrees_with_kubectl(cluster: Cluster, target: KubernetesTarget) -> None:
    cluster.deployment("api", API_V1, replicas=2)
    result = target.status(step(), "api")
    data = result.data
    assert data["rolled_out"] and data["healthy"] and data["image"] == API_V1 and data["revision"] == 1
    assert data["message"] in cluster.kubectl("rollout", "status", "deployment/api").stdout
    live = [p for p in cluster.get("pods", "-l", "app=api")["items"] if not p["metadata"].get("deletionTimestamp")]
    assert sorted(p["name"] for p in data["pods"] if not p["terminating"]) == sorted(p["metadata"]["name"] for p in live)
    assert all(p["phase"] == "Running" and p["ready"] for p in data["pods"] if not p["terminating"])
    assert {c["type"] for c in data["conditions"]} >= {"Available", "Progressing"}


def test_rbac_refusal_is_the_api_message(control_plane: Any, k8s_node: Any) -> None:
    ns = control_plane.restricted_namespace
    admin = Cluster(control_plane.kubeconfig, ns)
    if not admin.kubectl("get", "deployment", "api", check=False).returncode == 0:
        admin.deployment("api", API_V1)
    viewer = make_target(control_plane.restricted_kubeconfig, ns, name="viewer-target")
    assert viewer.status(step(), "api").data["image"] == API_V1
    with pytest.raises(TargetError) as err:
        viewer.deploy(step(), "api", "img:v2", atomic=False)
    text = str(err.value)
    assert 'deployments.apps "api" is forbidden: User "viewer" cannot patch resource "deployments"' in text
    assert "hint:" in text and "Traceback" not in text


def test_unreachable_api_server(tmp_path: Path, control_plane: Any) -> None:
    from ajudaplay.errors import TargetUnreachable

    config = (Path(control_plane.kubeconfig).read_text()).replace(control_plane.server, "https://127.0.0.1:1")
    (tmp_path / "kc").write_text(config)
    t = make_target(tmp_path / "kc", "default")
    start = dt.datetime.now()
    with pytest.raises(TargetUnreachable, match="cannot reach the Kubernetes API server at https://127.0.0.1:1"):
        t.status(step(), "api")
    assert (dt.datetime.now() - start).total_seconds() < 10
