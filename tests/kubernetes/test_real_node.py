"""The real test node itself: pods are real containers, probes are real, and stopping leaves nothing behind.

Everything is reached through the API server (kubectl exec/logs, object status), never a pod's address.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.infra.k8s.node import DOCKERSHIM_LABEL, NODE_NAME, NODE_ROOT, PAUSE_IMAGE, mounts_under
from tests.kubernetes.conftest import Cluster, NodeCluster, kubectl, real_deployment_manifest

pytestmark = pytest.mark.kubernetes

ROOT = Path(__file__).resolve().parents[2]
V1 = "ajudaplay-test/api:v1"


def _pods(cluster: Cluster, app: str) -> list[dict[str, Any]]:
    return [p for p in cluster.get("pods", "-l", f"app={app}")["items"] if not p["metadata"].get("deletionTimestamp")]


def _dockershim_containers(namespace: str | None = None) -> list[dict[str, str]]:
    args = ["docker", "ps", "-a", "--format", "{{json .}}", "--filter", f"label={DOCKERSHIM_LABEL}"]
    if namespace:
        args += ["--filter", f"label=io.kubernetes.pod.namespace={namespace}"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def test_pods_are_real_containers_reached_through_the_api(node_cluster: NodeCluster) -> None:
    node_cluster.deployment("api", V1)
    pods = _pods(node_cluster, "api")
    assert len(pods) == 2 and {p["spec"]["nodeName"] for p in pods} == {NODE_NAME}
    name = pods[0]["metadata"]["name"]
    assert node_cluster.kubectl("exec", name, "--", "cat", "/www/version").stdout == "v1\n"
    # each pod has its own hostname (the pod name), written by the image's PID 1 at start
    assert node_cluster.kubectl("exec", name, "--", "cat", "/www/hostname").stdout.strip() == name
    assert "api v1 listening on :8080" in node_cluster.kubectl("logs", name).stdout
    failing = node_cluster.kubectl("exec", name, "--", "sh", "-c", "echo oops >&2; exit 3", check=False)
    assert failing.returncode == 3 and "oops" in failing.stderr
    # on the engine: one pause sandbox and one container per pod, nothing else
    images = sorted(c["Image"] for c in _dockershim_containers(node_cluster.namespace) if c["Names"].startswith("k8s_POD_"))
    assert images == [PAUSE_IMAGE, PAUSE_IMAGE]
    assert len(_dockershim_containers(node_cluster.namespace)) == 4


def test_unhealthy_image_is_never_ready_and_exceeds_the_progress_deadline(node_cluster: NodeCluster) -> None:
    node_cluster.apply(real_deployment_manifest("api", "ajudaplay-test/api:unhealthy", replicas=1, deadline=4))
    status = node_cluster.kubectl("rollout", "status", "deployment/api", "--timeout=90s", check=False)
    assert status.returncode != 0 and 'deployment "api" exceeded its progress deadline' in status.stderr
    [pod] = _pods(node_cluster, "api")
    assert pod["status"]["phase"] == "Running" and pod["status"]["containerStatuses"][0]["ready"] is False
    events = node_cluster.get("events", "--field-selector", f"involvedObject.name={pod['metadata']['name']}")
    assert any(e["reason"] == "Unhealthy" and "Readiness probe failed" in e["message"] for e in events["items"])
    progressing = {c["type"]: c for c in node_cluster.get("deployment", "api")["status"]["conditions"]}["Progressing"]
    assert progressing["reason"] == "ProgressDeadlineExceeded"


def test_simulated_pods_stay_off_the_real_node(node_cluster: NodeCluster, node_sim: Any, namespace: str) -> None:
    """Both nodes in one session: the simulator's pods (images that do not exist) never reach the kubelet."""
    sim = Cluster(node_cluster.kubeconfig, namespace)
    sim.deployment("sim", "img:v1")
    node_cluster.deployment("api", V1, replicas=1)
    assert {p["spec"]["nodeName"] for p in _pods(sim, "sim")} == {node_sim.name}
    assert {p["spec"]["nodeName"] for p in _pods(node_cluster, "api")} == {NODE_NAME}
    assert not [c for c in _dockershim_containers(namespace) if "_sim-" in c["Names"]]


# One signal only: each case starts a whole control plane and node and restarts the session's node
# (about a minute of CI); SIGINT from a background job is the harder case, and SIGTERM goes to the
# same handler (controlplane.py's main installs one for both).
@pytest.mark.parametrize("how", ["sigint-in-background"])
def test_cli_node_prints_kubeconfig_and_ready_and_stops_everything(how: str, node_free: None, tmp_path: Path) -> None:
    """`python -m tests.infra.k8s.controlplane --node` until a signal; a background job ignores SIGINT at
    start (what a shell does for `&`), so the command must handle it itself."""
    def background() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    proc = subprocess.Popen([sys.executable, "-m", "tests.infra.k8s.controlplane", "--node"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=background if how.startswith("sigint") else None)
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.strip() == "ready":
                break
        kubeconfig = next(ln.split(": ", 1)[1] for ln in lines if ln.startswith("kubeconfig: "))
        assert lines[-1] == "ready", lines
        manifest = real_deployment_manifest("api", V1, replicas=1)
        kubectl(kubeconfig, "create", "namespace", "cli")
        subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "-n", "cli", "apply", "-f", "-"],
                       input=json.dumps(manifest), check=True, capture_output=True, text=True)
        kubectl(kubeconfig, "-n", "cli", "rollout", "status", "deployment/api", "--timeout=90s")
        assert _dockershim_containers("cli") and mounts_under(NODE_ROOT)  # the token Secret's tmpfs, the bind mount
        workdir = Path(kubeconfig).parent
        pids = [int(p) for p in subprocess.run(["pgrep", "-f", str(workdir)], capture_output=True, text=True).stdout.split()]
        assert len(pids) >= 4, pids  # etcd is under /dev/shm; apiserver, controller-manager, scheduler, kubelet
        proc.send_signal(signal.SIGINT if how.startswith("sigint") else signal.SIGTERM)
        rest = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    shutil.rmtree(workdir, ignore_errors=True)  # the by-hand command keeps its logs
    assert proc.returncode == 0, rest
    assert "stopped" in rest
    assert not _dockershim_containers()
    assert not mounts_under(NODE_ROOT) and not NODE_ROOT.exists()
    deadline = time.monotonic() + 10
    while (alive := [p for p in pids if Path(f"/proc/{p}").exists()]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive, alive
