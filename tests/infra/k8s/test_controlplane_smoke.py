"""Smoke test of the Kubernetes test infrastructure: real control plane, node/cert-manager simulators, fault proxy."""

from __future__ import annotations

import base64
import json
import subprocess
import threading
import time
from typing import Any, Callable

import pytest
from cryptography import x509
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from tests.infra.k8s.conftest_fixtures import NEVER_READY_IMAGE  # fixtures come from tests/conftest.py
from tests.infra.k8s.controlplane import ControlPlane
from tests.infra.k8s.faultproxy import FaultProxy
from tests.infra.k8s.nodesim import api_client_for

pytestmark = pytest.mark.kubernetes


def kubectl(cp: ControlPlane | FaultProxy, *args: str, check: bool = True,
            timeout: float = 90) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["kubectl", "--kubeconfig", str(cp.kubeconfig), *args], capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def wait_for(what: str, fn: Callable[[], Any], timeout: float = 60, interval: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def test_rollout_and_revisions(control_plane: ControlPlane, node_sim: Any, namespace: str) -> None:
    ns = ["-n", namespace]
    kubectl(control_plane, *ns, "create", "deployment", "web", "--image=img:v1", "--replicas=2")
    kubectl(control_plane, *ns, "rollout", "status", "deployment/web", "--timeout=60s")
    kubectl(control_plane, *ns, "set", "image", "deployment/web", "img=img:v2")
    kubectl(control_plane, *ns, "rollout", "status", "deployment/web", "--timeout=60s")
    rs = json.loads(kubectl(control_plane, *ns, "get", "rs", "-o", "json").stdout)["items"]
    revisions = {r["spec"]["template"]["spec"]["containers"][0]["image"]:
                 r["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for r in rs}
    assert revisions == {"img:v1": "1", "img:v2": "2"}
    pods = json.loads(kubectl(control_plane, *ns, "get", "pods", "-o", "json").stdout)["items"]
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    wait_for("old pods to be gone", lambda: len(json.loads(
        kubectl(control_plane, *ns, "get", "pods", "-o", "json").stdout)["items"]) == 2, timeout=30)
    assert all(p["spec"]["nodeName"] == node_sim.name for p in live)


def test_progress_deadline_exceeded(control_plane: ControlPlane, node_sim: Any, namespace: str) -> None:
    ns = ["-n", namespace]
    kubectl(control_plane, *ns, "create", "deployment", "stuck", "--image=img:v1", "--replicas=2")
    kubectl(control_plane, *ns, "patch", "deployment", "stuck", "-p", '{"spec":{"progressDeadlineSeconds":5}}')
    kubectl(control_plane, *ns, "rollout", "status", "deployment/stuck", "--timeout=60s")
    kubectl(control_plane, *ns, "set", "image", "deployment/stuck", f"img={NEVER_READY_IMAGE}")
    failed = kubectl(control_plane, *ns, "rollout", "status", "deployment/stuck", "--timeout=60s", check=False)
    assert failed.returncode != 0 and "exceeded its progress deadline" in failed.stderr, failed
    dep = json.loads(kubectl(control_plane, *ns, "get", "deployment", "stuck", "-o", "json").stdout)
    progressing = next(c for c in dep["status"]["conditions"] if c["type"] == "Progressing")
    assert progressing["status"] == "False" and progressing["reason"] == "ProgressDeadlineExceeded"


def test_rbac_refusal(control_plane: ControlPlane, namespace: str) -> None:
    viewer = client.CoreV1Api(api_client_for(control_plane.restricted_kubeconfig))
    viewer.list_namespaced_pod(control_plane.restricted_namespace)
    with pytest.raises(ApiException) as exc:
        viewer.create_namespaced_config_map(control_plane.restricted_namespace,
                                            {"metadata": {"name": "nope"}, "data": {}})
    assert exc.value.status == 403
    with pytest.raises(ApiException) as exc:
        viewer.list_namespaced_pod(namespace)
    assert exc.value.status == 403


def _secret_cert(core: client.CoreV1Api, ns: str, name: str) -> x509.Certificate:
    secret = core.read_namespaced_secret(name, ns)
    assert secret.type == "kubernetes.io/tls" and set(secret.data) == {"tls.crt", "tls.key", "ca.crt"}
    return x509.load_pem_x509_certificate(base64.b64decode(secret.data["tls.crt"]))


def test_cert_manager_issue_and_renew(k8s_api: client.ApiClient, cert_manager: Any, namespace: str) -> None:
    custom, core = client.CustomObjectsApi(k8s_api), client.CoreV1Api(k8s_api)
    args = ("cert-manager.io", "v1", namespace, "certificates", "site")
    custom.create_namespaced_custom_object(*args[:4], {
        "apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "site"},
        "spec": {"secretName": "site-tls", "dnsNames": ["site.example.test"], "duration": "24h",
                 "issuerRef": {"name": "test-issuer", "kind": "Issuer"}}})

    def status() -> dict[str, Any]:
        return custom.get_namespaced_custom_object(*args).get("status") or {}
    wait_for("certificate Ready", lambda: status().get("revision") == 1, timeout=30)
    first = _secret_cert(core, namespace, "site-tls")
    san = first.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["site.example.test"]
    assert {"notBefore", "notAfter", "renewalTime"} <= set(status())
    # what `cmctl renew` does: add the Issuing condition through the status subresource
    conds = status()["conditions"] + [{"type": "Issuing", "status": "True", "reason": "ManuallyTriggered",
                                       "message": "Certificate re-issuance manually triggered"}]
    custom.patch_namespaced_custom_object_status(*args, {"status": {"conditions": conds}})  # merge patch
    final = wait_for("renewal", lambda: (s := status()).get("revision") == 2 and s, timeout=30)
    assert [c["type"] for c in final["conditions"]] == ["Ready"]
    assert _secret_cert(core, namespace, "site-tls").serial_number != first.serial_number


def test_fault_proxy(fault_proxy: FaultProxy, namespace: str) -> None:
    api = client.CoreV1Api(api_client_for(fault_proxy.kubeconfig))
    events: list[str] = []
    w = watch.Watch()

    def watcher() -> None:
        for ev in w.stream(api.list_namespaced_config_map, namespace, timeout_seconds=20):
            events.append(f"{ev['type']} {ev['object'].metadata.name}")
            if ev["object"].metadata.name == "cm-2":
                w.stop()
    t = threading.Thread(target=watcher, daemon=True)
    t.start()
    time.sleep(1)  # let the watch open through the proxy
    api.create_namespaced_config_map(namespace, {"metadata": {"name": "cm-1"}, "data": {"a": "1"}})
    fault_proxy.error(status=500, count=1, match=rf"^POST /api/v1/namespaces/{namespace}/configmaps")
    with pytest.raises(ApiException) as exc:
        api.create_namespaced_config_map(namespace, {"metadata": {"name": "cm-2"}, "data": {}})
    assert exc.value.status == 500 and "injected" in exc.value.body
    api.create_namespaced_config_map(namespace, {"metadata": {"name": "cm-2"}, "data": {}})  # rule used up
    t.join(timeout=20)
    assert [e for e in events if "kube-root-ca" not in e] == ["ADDED cm-1", "ADDED cm-2"], events
    assert fault_proxy.count(rf"^POST /api/v1/namespaces/{namespace}/configmaps") == 3
    fault_proxy.error(status=409, count=1, match=r"^GET /api/v1/namespaces/[^/]+/configmaps/cm-1")
    failed = kubectl(fault_proxy, "-n", namespace, "get", "configmap", "cm-1", check=False)
    assert failed.returncode != 0 and "injected HTTP 409" in failed.stderr, failed
    fault_proxy.stall(1.5, match=r"/configmaps/cm-1$", count=1)
    t0 = time.monotonic()
    assert kubectl(fault_proxy, "-n", namespace, "get", "configmap", "cm-1").returncode == 0
    assert time.monotonic() - t0 >= 1.5
