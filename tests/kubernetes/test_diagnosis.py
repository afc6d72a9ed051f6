"""`status.why` on real pods (the test kubelet): why a service will not start, checked against kubectl.

One namespace for the module, five Deployments started together: an image that cannot be pulled
(a registry on loopback port 1, imagePullPolicy Always), a command that exits 3 (CrashLoopBackOff),
a missing Secret key (CreateContainerConfigError), a container over its memory limit (OOMKilled) and a
pod no node matches (FailedScheduling); plus one healthy Deployment, whose `why` is empty.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import yaml

from ajudaplay.errors import Mark
from ajudaplay.inventory.model import TargetSpec
from ajudaplay.targets.kubernetes import KubernetesTarget
from tests.infra.k8s.node import API_V1
from tests.kubernetes.conftest import NodeCluster, real_deployment_manifest, step

pytestmark = pytest.mark.kubernetes

ROOT = Path(__file__).resolve().parents[2]
PULL_IMAGE = "127.0.0.1:1/nope:1"  # nothing listens on port 1: the pull fails at once, offline


def _manifests() -> list[dict[str, Any]]:
    def dep(name: str, image: str = API_V1, **container: Any) -> dict[str, Any]:
        m = real_deployment_manifest(name, image, replicas=1, container="api", deadline=600)
        m["spec"]["template"]["spec"]["containers"][0].update(container)
        return m

    nowhere = dep("nowhere")
    nowhere["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/hostname": "no-such-node"}
    return [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}, "stringData": {"present": "s3cr3t-value"}},
        dep("good"),
        dep("pull", PULL_IMAGE, imagePullPolicy="Always"),
        dep("crash", command=["sh", "-c", "echo starting; exit 3"]),
        dep("config", env=[{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "absent"}}}]),
        dep("oom", command=["sh", "-c", "head -c 100m /dev/zero | tail"], resources={"limits": {"memory": "16Mi"}}),
        nowhere,
    ]


SERVICES = ("good", "pull", "crash", "config", "oom", "nowhere")


def _wait(what: str, probe: Callable[[], Any], timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(1)


@pytest.fixture(scope="module")
def broken(control_plane: Any, k8s_node: Any) -> Iterator[NodeCluster]:
    """The module's namespace with the Deployments above, each in the state it is there for."""
    cluster = NodeCluster(control_plane.kubeconfig, f"why-{uuid.uuid4().hex[:8]}")
    subprocess.run(["kubectl", "--kubeconfig", str(cluster.kubeconfig), "create", "namespace", cluster.namespace],
                   check=True, capture_output=True, timeout=60)
    try:
        _wait("the default ServiceAccount's token", lambda: cluster.kubectl(
            "get", "serviceaccount", "default", "-o", "jsonpath={.secrets}", check=False).stdout.strip(), timeout=30)
        cluster.apply({"apiVersion": "v1", "kind": "List", "items": _manifests()})
        _wait("the good pod Ready", lambda: _pod(cluster, "good")["status"].get("containerStatuses", [{}])[0].get("ready"))
        for name, reasons in (("pull", {"ErrImagePull", "ImagePullBackOff"}), ("config", {"CreateContainerConfigError"}),
                              ("crash", {"CrashLoopBackOff"}), ("oom", {"CrashLoopBackOff"})):
            _wait(f"{name} waiting with {reasons}", lambda n=name, r=reasons: _waiting(cluster, n) in r)  # type: ignore[misc]
        _wait("nowhere unschedulable", lambda: any(c.get("reason") == "Unschedulable"
                                                   for c in _pod(cluster, "nowhere")["status"].get("conditions") or []))
        yield cluster
    finally:
        cluster.kubectl("delete", "namespace", cluster.namespace, "--wait=false", check=False)


def _pod(cluster: NodeCluster, app: str) -> dict[str, Any]:
    pods = cluster.get("pods", "-l", f"app={app}")["items"]
    return pods[0] if pods else {"status": {}, "metadata": {"name": ""}}


def _waiting(cluster: NodeCluster, app: str) -> str | None:
    statuses = _pod(cluster, app)["status"].get("containerStatuses") or [{}]
    reason = (statuses[0].get("state") or {}).get("waiting", {}).get("reason")
    return None if reason is None else str(reason)


@pytest.fixture(scope="module")
def target(broken: NodeCluster) -> Iterator[KubernetesTarget]:
    spec = TargetSpec(name="cluster", kind="kubernetes", mark=Mark("inventory.yml", 1, 1),
                      connection={"kubeconfig": str(broken.kubeconfig), "namespace": broken.namespace},
                      services={name: {"deployment": name} for name in SERVICES})
    t = KubernetesTarget(spec)
    t.open()
    yield t
    t.close()


def why(target: KubernetesTarget, service: str) -> list[dict[str, Any]]:
    result = target.status(step(), service)
    assert not result.failed and not result.warnings, result
    entries: list[dict[str, Any]] = result.data["why"]
    for entry in entries:  # one shape on every mode (targets/problems.py)
        assert set(entry) == {"object", "pod", "container", "reason", "message", "exit_code", "count", "last_seen", "source"}
    return entries


def kubectl_events(cluster: NodeCluster, name: str) -> set[tuple[str, str]]:
    """(reason, message) of the object's non-Normal events, as kubectl lists them."""
    items = cluster.get("events", "--field-selector", f"involvedObject.name={name}")["items"]
    return {(e["reason"], e["message"].strip()) for e in items if e["type"] != "Normal"}


def test_healthy_service_has_no_why(target: KubernetesTarget) -> None:
    result = target.status(step(), "good")
    assert result.data["healthy"] is True and result.data["why"] == []
    assert "why:" not in result.msg


def test_image_that_cannot_be_pulled(target: KubernetesTarget, broken: NodeCluster) -> None:
    pod = _pod(broken, "pull")["metadata"]["name"]
    entries = why(target, "pull")
    [waiting] = [e for e in entries if e["source"] == "waiting"]
    assert waiting["reason"] in ("ErrImagePull", "ImagePullBackOff") and waiting["pod"] == pod
    assert waiting["container"] == "api" and waiting["exit_code"] is None
    events = [e for e in entries if e["source"] == "event"]
    assert any(PULL_IMAGE in e["message"] and "127.0.0.1:1" in e["message"] for e in events), events
    assert {(e["reason"], e["message"]) for e in events} <= kubectl_events(broken, pod)
    assert all(e["container"] == "api" and e["count"] >= 1 and e["last_seen"] for e in events)
    # newest first, as a reader wants them
    assert [e["last_seen"] for e in events] == sorted((e["last_seen"] for e in events), reverse=True)
    assert "why: " in target.status(step(), "pull").msg


def test_crashing_container_exit_code_and_back_off(target: KubernetesTarget, broken: NodeCluster) -> None:
    entries = why(target, "crash")
    status = _pod(broken, "crash")["status"]["containerStatuses"][0]
    [waiting] = [e for e in entries if e["source"] == "waiting"]
    assert waiting["reason"] == "CrashLoopBackOff" and waiting["exit_code"] == 3
    terminated = [e for e in entries if e["source"] == "terminated"]
    assert [(e["reason"], e["exit_code"]) for e in terminated] == [("Error", 3)]
    assert 1 <= terminated[0]["count"] <= status["restartCount"]
    assert terminated[0]["last_seen"]
    _wait("the kubelet's BackOff event", lambda: "BackOff" in {e["reason"] for e in why(target, "crash")
                                                                if e["source"] == "event"}, timeout=60)


def test_missing_secret_key(target: KubernetesTarget) -> None:
    entries = why(target, "config")
    [waiting] = [e for e in entries if e["source"] == "waiting"]
    assert waiting["reason"] == "CreateContainerConfigError"
    assert "absent" in waiting["message"] and "creds" in waiting["message"]
    assert "s3cr3t-value" not in json.dumps(entries)


def test_out_of_memory(target: KubernetesTarget) -> None:
    entries = why(target, "oom")
    assert ("OOMKilled", 137) in {(e["reason"], e["exit_code"]) for e in entries if e["source"] == "terminated"}


def test_unschedulable_pod(target: KubernetesTarget, broken: NodeCluster) -> None:
    entries = why(target, "nowhere")
    [cond] = [e for e in entries if e["source"] == "condition"]
    assert cond["reason"] == "Unschedulable" and "nodes are available" in cond["message"], cond
    _wait("the scheduler's event", lambda: any(e["reason"] == "FailedScheduling" for e in why(target, "nowhere")))


def test_triage_playbook_prints_why(broken: NodeCluster, tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"targets": {"cluster": {
        "kubernetes": {"kubeconfig": str(broken.kubeconfig), "namespace": broken.namespace},
        "services": {name: {"deployment": name} for name in SERVICES}}}}))
    for attempt in range(6):  # the crash loop alternates: a moment running between back-offs shows no waiting state
        proc = subprocess.run([sys.executable, "-m", "ajudaplay", "run", str(ROOT / "playbooks/triage.yml"), "-i",
                               str(inventory), "--no-journal", "-e", "service=crash", "--output", "json"],
                              capture_output=True, text=True, timeout=120)
        events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
        shown = [e for e in events if e.get("event") == "task_result" and e["task"].startswith("Why it is not starting")]
        assert proc.returncode == 2, proc.stdout + proc.stderr  # the final assert: not healthy
        text = json.dumps(shown)
        if "CrashLoopBackOff (exit 3)" in text:
            break
        time.sleep(3)
    assert "CrashLoopBackOff (exit 3)" in text and "Error (exit 3)" in text, text
