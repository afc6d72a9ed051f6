"""`exec` on Kubernetes: the pods/exec subresource on real pods (the test kubelet), checked against kubectl exec."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import yaml

from ajudaplay.errors import Interrupted, TargetError
from ajudaplay.targets.kubernetes import KubernetesTarget
from tests.infra.k8s.node import API_UNHEALTHY, API_V1
from tests.kubernetes.conftest import NodeCluster, real_deployment_manifest, step
from tests.kubernetes.test_playbooks_e2e import ajudaplay, write_inventory

pytestmark = pytest.mark.kubernetes


def _ready_pods(cluster: NodeCluster) -> list[str]:
    pods = cluster.get("pods", "-l", "app=api")["items"]
    return sorted(p["metadata"]["name"] for p in pods if not p["metadata"].get("deletionTimestamp") and any(
        c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", [])))


def test_stdout_stderr_apart_and_the_pod_it_ran_in(node_cluster: NodeCluster, node_target: KubernetesTarget) -> None:
    node_cluster.deployment("api", API_V1)
    result = node_target.exec(step(), "api", "cat /www/version; echo warn >&2")
    assert not result.failed and result.changed, result.msg
    data = result.data
    assert (data["rc"], data["stdout"], data["stderr"]) == (0, "v1\n", "warn\n")
    assert data["stdout_lines"] == ["v1"] and data["stderr_lines"] == ["warn"]
    assert data["pod"] in _ready_pods(node_cluster) and data["container"] == "api"
    # the same pod, asked through kubectl: its hostname is its name
    ours = node_target.exec(step(), "api", ["cat", "/www/hostname"], pod=data["pod"]).data["stdout"]
    assert ours == node_cluster.kubectl("exec", data["pod"], "--", "cat", "/www/hostname").stdout == data["pod"] + "\n"


def test_non_zero_exit_fails_the_step_with_its_code_and_stderr(node_cluster: NodeCluster,
                                                               node_target: KubernetesTarget) -> None:
    node_cluster.deployment("api", API_V1, replicas=1)
    result = node_target.exec(step(), "api", "echo out; echo bad >&2; exit 3")
    assert result.failed and result.data["rc"] == 3
    assert result.data["stdout"] == "out\n" and result.data["stderr"] == "bad\n"
    assert "exited 3" in result.msg and "bad" in result.msg
    kubectl = node_cluster.kubectl("exec", result.data["pod"], "--", "sh", "-c", "echo out; echo bad >&2; exit 3",
                                   check=False)
    assert kubectl.returncode == result.data["rc"]
    missing = node_target.exec(step(), "api", ["no-such-program"])
    assert missing.failed and missing.data["rc"] in (126, 127) and "no-such-program" in missing.msg


def test_every_pod_with_pod_all_and_one_named_pod(node_cluster: NodeCluster, node_target: KubernetesTarget) -> None:
    node_cluster.deployment("api", API_V1, replicas=2)
    pods = _ready_pods(node_cluster)
    result = node_target.exec(step(), "api", ["cat", "/www/hostname"], pod="all")
    assert not result.failed, result.msg
    assert [(r["pod"], r["stdout"], r["rc"]) for r in result.data["pods"]] == [(p, p + "\n", 0) for p in pods]
    assert result.data["rc"] == 0 and result.data["stdout_lines"] == [f"{p} {p}" for p in pods]
    named = node_target.exec(step(), "api", ["cat", "/www/hostname"], pod=pods[1])
    assert named.data["stdout"] == pods[1] + "\n"
    with pytest.raises(TargetError, match="is not a pod of service 'api'"):
        node_target.exec(step(), "api", ["true"], pod="api-nope")
    with pytest.raises(TargetError, match="container"):
        node_target.exec(step(), "api", ["true"], container="sidecar")


def test_stdin_reaches_the_command(node_cluster: NodeCluster, node_target: KubernetesTarget) -> None:
    """The 1.20 server speaks v4 (no end-of-stdin signal): a command that reads what it needs, then exits."""
    node_cluster.deployment("api", API_V1, replicas=1)
    result = node_target.exec(step(), "api", ["head", "-n", "1"], stdin="hello from stdin\nsecond\n")
    assert not result.failed, result.msg
    assert result.data["stdout"] == "hello from stdin\n"


def test_timeout_and_ctrl_c_close_the_stream(node_cluster: NodeCluster, node_target: KubernetesTarget) -> None:
    node_cluster.deployment("api", API_V1, replicas=1)
    start = time.monotonic()
    with pytest.raises(TargetError, match="still running after 2s"):
        node_target.exec(step(timeout=2), "api", "sleep 60")
    assert time.monotonic() - start < 15
    ctx = step(timeout=120)
    threading.Timer(1.0, ctx.cancel.set).start()
    start = time.monotonic()
    with pytest.raises(Interrupted):
        node_target.exec(ctx, "api", "sleep 60")
    assert time.monotonic() - start < 10


def test_check_mode_skips_and_no_ready_pod_is_a_clear_error(node_cluster: NodeCluster,
                                                            node_target: KubernetesTarget) -> None:
    skipped = node_target.exec(step(check=True), "api", "touch /www/should-not-exist")
    assert skipped.skipped and "would run in api" in skipped.msg
    node_cluster.apply(real_deployment_manifest("api", API_UNHEALTHY, replicas=1, deadline=600))
    for _ in range(100):
        pods = node_cluster.get("pods", "-l", "app=api")["items"]
        if pods and pods[0]["status"].get("phase") == "Running":
            break
        time.sleep(0.2)
    with pytest.raises(TargetError, match="has no Ready pod; pods: api-.* \\(Running, not ready\\)"):
        node_target.exec(step(), "api", ["true"])


def test_exec_action_in_a_playbook_registers_the_results(node_cluster: NodeCluster, tmp_path: Path) -> None:
    """Through `ajudaplay run`: schema, action and registered data, then a non-zero exit failing the run."""
    node_cluster.deployment("api", API_V1)
    inv = write_inventory(tmp_path / "inv.yml", node_cluster.kubeconfig, node_cluster.namespace)
    playbook = tmp_path / "exec.yml"
    playbook.write_text(yaml.safe_dump([{"name": "exec", "hosts": "all", "tasks": [
        {"name": "one pod", "exec": {"service": "api", "command": ["cat", "/www/version"]}, "register": "one"},
        {"name": "every pod", "exec": {"service": "api", "command": "cat /www/hostname", "pod": "all"},
         "register": "every"},
        {"name": "check", "assert": {"that": [
            "one.rc == 0", "one.stdout == 'v1\\n'", "one.stdout_lines == ['v1']",
            "every.pods | length == 2", "every.pods | map(attribute='stdout') | map('trim') | list == "
            "every.pods | map(attribute='pod') | list"]}},
        {"name": "fails", "exec": {"service": "api", "command": "echo nope >&2; exit 4"}},
        {"name": "never reached", "debug": {"msg": "after-the-failed-exec"}}]}]))
    proc = ajudaplay("run", str(playbook), "-i", str(inv), "--no-journal", cwd=tmp_path)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 2, text
    assert "exited 4" in text and "nope" in text and "Traceback" not in text
    assert "never reached" not in text and "after-the-failed-exec" not in text
