"""triage-wont-start.yml and triage-service-down.yml, unchanged, through `ajudaplay run` on real pods (the test
kubelet), one namespace for both: `api` crashes because TELEGRAM_BOT_TOKEN is not set (CrashLoopBackOff, exit 3,
the previous container's logs say why), `web` was just deployed to an image that never becomes Ready by a real,
journaled deploy.yml run (the verdict names the rollback; incident.yml's summary points there too). The triage runs pass --no-journal: `changes` then
reads the default journal (AJUDAPLAY_JOURNAL) read-only.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra.k8s.node import API_UNHEALTHY, API_V1
from tests.kubernetes.conftest import NodeCluster, real_deployment_manifest

pytestmark = pytest.mark.kubernetes

ROOT = Path(__file__).resolve().parents[2]
CRASH = '[ -n "$TELEGRAM_BOT_TOKEN" ] || { echo "fatal: TELEGRAM_BOT_TOKEN is not set" >&2; exit 3; }; exec start'


def ajudaplay(tmp_path: Path, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    env = dict(os.environ, AJUDAPLAY_JOURNAL=str(tmp_path / "journal.sqlite"), NO_COLOR="1")
    done = subprocess.run([sys.executable, "-m", "ajudaplay", *args, "--output", "json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240)
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return done.returncode, events, done.stdout + done.stderr


def result(events: list[dict[str, Any]], task: str) -> dict[str, Any]:
    [found] = [e for e in events if e.get("event") == "task_result" and e["task"] == task]
    return found


def test_triage_wont_start_and_service_down_on_real_pods(node_cluster: NodeCluster, tmp_path: Path) -> None:
    cluster = node_cluster
    cluster.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "api-env"},
                   "data": {"DB_URL": base64.b64encode(b"db-secret-value-5521").decode()}})
    api = real_deployment_manifest("api", API_V1, replicas=1)
    container = api["spec"]["template"]["spec"]["containers"][0]
    container.update(command=["sh", "-c", CRASH], env=[
        {"name": "DB_URL", "valueFrom": {"secretKeyRef": {"name": "api-env", "key": "DB_URL"}}}],
        resources={"limits": {"memory": "64Mi"}})
    cluster.apply(api)
    cluster.deployment("web", API_V1, replicas=1, deadline=10)
    inventory = tmp_path / "inv.yml"
    inventory.write_text(yaml.safe_dump({
        "vars": {"image_repos": {"web": "ajudaplay-test/api"}},
        "targets": {"cluster": {
            "kubernetes": {"kubeconfig": str(cluster.kubeconfig), "namespace": cluster.namespace},
            "services": {"api": {"deployment": "api", "container": "api", "env": ["DB_URL", "TELEGRAM_BOT_TOKEN"]},
                         "web": {"deployment": "web", "container": "api"}}}},
    }))
    rc, events, text = ajudaplay(tmp_path, "run", str(ROOT / "playbooks" / "deploy.yml"), "-i", str(inventory),
                                 "-e", "service=web", "-e", f"image={API_UNHEALTHY}", "-e", "atomic=false",
                                 "-e", "deploy_timeout=40")
    assert rc != 0 and result(events, "Deploy the service")["status"] == "failed", text

    # the crashed container's previous logs exist once the kubelet restarted it
    deadline = time.monotonic() + 90
    while not any(cs.get("lastState", {}).get("terminated") for p in cluster.get("pods", "-l", "app=api")["items"]
                  for cs in p.get("status", {}).get("containerStatuses") or []):
        assert time.monotonic() < deadline, cluster.get("pods", "-l", "app=api")
        time.sleep(1)

    rc, events, text = ajudaplay(tmp_path, "run", str(ROOT / "playbooks" / "triage-wont-start.yml"), "-i",
                                 str(inventory), "--no-journal")
    assert rc == 0, text
    env = result(events, "Environment of the service (names only)")["data"]
    assert (env["names"], env["missing"]) == (["DB_URL"], ["TELEGRAM_BOT_TOKEN"])
    assert env["limits"]["memory_bytes"] == 64 * 1048576
    prev = result(events, "Logs of the crashed container (previous)")["data"]
    assert any("fatal: TELEGRAM_BOT_TOKEN is not set" in line for line in prev["lines"]), prev
    line = result(events, "Summary")["msg"]
    assert line.startswith("cluster api: cause: missing env TELEGRAM_BOT_TOKEN; fix: add TELEGRAM_BOT_TOKEN to"), line
    assert "memory limit 64Mi" in line and "db-secret-value-5521" not in text
    reasons = {w["reason"] for w in result(events, "Status of the service")["data"]["why"]}
    assert reasons & {"CrashLoopBackOff", "Error", "BackOff"}, reasons

    rc, events, text = ajudaplay(tmp_path, "run", str(ROOT / "playbooks" / "triage-service-down.yml"), "-i",
                                 str(inventory), "-e", "service=web", "--no-journal")
    assert rc == 0, text
    recent = result(events, "Changes in the window")["data"]
    [deploy] = recent["runs"]
    assert deploy["playbook"].endswith("deploy.yml") and deploy["status"] == "failed"
    rss = {int(r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]):
           r["spec"]["template"]["spec"]["containers"][0]["image"] for r in cluster.get("rs", "-l", "app=web")["items"]}
    assert rss == {1: API_V1, 2: API_UNHEALTHY}
    assert (recent["newest"]["revision"], recent["newest"]["image"], recent["newest"]["in_window"]) == (2, API_UNHEALTHY, True)
    assert recent["previous"] == 1 and [r["revision"] for r in recent["revisions"]] == [2, 1]
    line = result(events, "Summary")["msg"]
    assert f"cluster web: down on revision 2 ({API_UNHEALTHY}" in line, line
    assert "`ajudaplay run playbooks/rollback.yml -i inv -l cluster -e service=web` (to revision 1)" in line, line

    rc, events, text = ajudaplay(tmp_path, "run", str(ROOT / "playbooks" / "incident.yml"), "-i", str(inventory),
                                 "-e", "service=web", "--no-journal")
    assert rc == 0, text
    line = result(events, "Incident summary")["msg"]
    assert line.startswith("cluster web: PROBLEMS: not healthy") and "1 change run(s) in 1h" in line, line
    assert "next: triage-service-down.yml (revision 2 is " in line and line.endswith("rollback.yml -i inv -l cluster)"), line
