"""Ctrl-C during a rollout wait on the real control plane: the step is `interrupted`, never an internal error.

The simulated node (conftest.py `cluster`) holds the rollout unfinished on purpose; no container has to run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.kubernetes.conftest import NEVER_READY_IMAGE, Cluster
from tests.kubernetes.test_playbooks_e2e import ROOT, image, write_inventory

pytestmark = pytest.mark.kubernetes


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_rollout_wait_is_reported_interrupted(cluster: Cluster, tmp_path: Path, sig: int) -> None:
    cluster.deployment("api", "img:v1", deadline=600)  # the rollout of a never-ready image never completes
    inv = write_inventory(tmp_path / "inv.yml", cluster.kubeconfig, cluster.namespace)
    playbook = tmp_path / "deploy.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "all", "tasks": [
        {"name": "deploy", "deploy": {"service": "api", "image": NEVER_READY_IMAGE, "atomic": False, "timeout": 300}},
        {"name": "after", "status": {"service": "api"}},
    ]}]))
    journal = tmp_path / "journal.sqlite"
    env = dict(os.environ, AJUDAPLAY_JOURNAL=str(journal), NO_COLOR="1")
    proc = subprocess.Popen([sys.executable, "-m", "ajudaplay", "run", str(playbook), "-i", str(inv), "--output", "json"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while image(cluster) != NEVER_READY_IMAGE:  # patched: ajudaplay is now waiting for the rollout
            assert time.monotonic() < deadline and proc.poll() is None, "the deploy never started"
            time.sleep(0.2)
        time.sleep(1.0)
        started = time.monotonic()
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=60)
        elapsed = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert elapsed < 10  # the watch was closed, not waited out
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    results = [e for e in events if e["event"] == "task_result" and e["task"] != "acquire lock"]
    assert [(e["task"], e["status"]) for e in results] == [("deploy", "interrupted")]
    assert "wait interrupted" in results[0]["msg"] and "internal error" not in results[0]["msg"]
    assert events[-1]["outcome"] == "interrupted" and events[-1]["stats"]["cluster"]["interrupted"] == 1
    shown = subprocess.run([sys.executable, "-m", "ajudaplay", "show", events[-1]["run_id"], "--output", "json"],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    record = json.loads(shown.stdout)
    assert record["outcome"] == "interrupted"
    assert [(r["task"], r["status"]) for r in record["results"] if r["task"] != "acquire lock"] == [("deploy", "interrupted")]
    leases = cluster.get("leases")["items"]
    assert leases == [] or all(not (lease["spec"].get("holderIdentity") or "") for lease in leases)  # released
