"""A real `ajudaplay run` killed with SIGKILL: `history` and `show` say abandoned (with its last step), and
the next run on the same target gets the lock at once instead of waiting out the 900 s TTL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp: Path) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT), AJUDAPLAY_JOURNAL=str(tmp / "journal.sqlite"), NO_COLOR="1")


def _cli(tmp: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ajudaplay", *args], cwd=tmp, env=_env(tmp),
                          capture_output=True, text=True, timeout=timeout)


def _wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached")


def _running_step(tmp: Path) -> bool:
    proc = _cli(tmp, "history", "--output", "json")
    runs = json.loads(proc.stdout) if proc.returncode == 0 else []
    return bool(runs) and runs[0]["outcome"] == "running" and "long step" in runs[0]["last_step"]


def _kill_and_check(tmp: Path, long_play: list[dict[str, Any]], quick_play: list[dict[str, Any]],
                    lock_exists: Callable[[], bool]) -> None:
    (tmp / "long.yml").write_text(yaml.safe_dump(long_play))
    (tmp / "quick.yml").write_text(yaml.safe_dump(quick_play))
    proc = subprocess.Popen([sys.executable, "-m", "ajudaplay", "run", "long.yml", "-i", "inv.yml"], cwd=tmp,
                            env=_env(tmp), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: lock_exists() and _running_step(tmp))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert lock_exists(), "a SIGKILLed run leaves its lock behind"

    [row] = json.loads(_cli(tmp, "history", "--output", "json").stdout)
    assert row["outcome"] == "abandoned", row
    assert row["last_step"].startswith("long step on ")
    shown = _cli(tmp, "show", row["run_id"][:8])
    assert shown.returncode == 0, shown.stderr
    assert "outcome:   abandoned" in shown.stdout
    assert "last step: long step on " in shown.stdout
    assert f"its process (pid {proc.pid} on " in shown.stdout

    started = time.monotonic()
    again = _cli(tmp, "run", "quick.yml", "-i", "inv.yml")  # --lock-wait 0: a held lock would fail at once
    assert again.returncode == 0, again.stdout + again.stderr
    assert time.monotonic() - started < 60
    assert not lock_exists()
    history = json.loads(_cli(tmp, "history", "--output", "json").stdout)
    assert [r["outcome"] for r in history] == ["success", "abandoned"]


@pytest.mark.parametrize("kind", ["host", "compose"])
def test_sigkilled_run_on_a_local_target_is_abandoned_and_its_lock_stale_at_once(tmp_path: Path, kind: str) -> None:
    project = tmp_path / "project"
    project.mkdir()
    if kind == "host":
        lock = tmp_path / "web.lock"
        target: dict[str, Any] = {"host": "@local", "lock_path": str(lock)}
    else:
        lock = project / ".ajudaplay" / "lock"
        target = {"compose": {"host": "@local", "project_dir": str(project)}, "services": {"api": {}}}
    (tmp_path / "inv.yml").write_text(yaml.safe_dump({"targets": {"web": target}}))
    long_play = [{"hosts": "all", "tasks": [
        {"name": "long step", "wait_for": {"path": str(tmp_path / "never"), "timeout": 300, "sleep": 0.2}}]}]
    quick_play = [{"hosts": "all", "tasks": [{"name": "quick", "shell": "true"}]}]
    _kill_and_check(tmp_path, long_play, quick_play, lambda: (lock / "owner.json").exists())


@pytest.mark.kubernetes
def test_sigkilled_run_on_a_kubernetes_target_is_abandoned_and_its_lease_stale_at_once(
    tmp_path: Path, control_plane: Any, node_sim: Any, namespace: str
) -> None:
    from tests.kubernetes.conftest import NEVER_READY_IMAGE, Cluster

    cluster = Cluster(control_plane.kubeconfig, namespace)
    cluster.deployment("api", "img:v1")
    (tmp_path / "inv.yml").write_text(yaml.safe_dump({"targets": {"cluster": {
        "kubernetes": {"kubeconfig": str(cluster.kubeconfig), "namespace": namespace},
        "services": {"api": {"deployment": "api", "container": "api"}}}}}))
    long_play = [{"hosts": "all", "tasks": [
        {"name": "long step", "deploy": {"service": "api", "image": NEVER_READY_IMAGE, "atomic": False},
         "timeout": 300}]}]
    quick_play = [{"hosts": "all", "tasks": [{"name": "quick", "status": {"service": "api"}}]}]

    def lease_exists() -> bool:
        return cluster.kubectl("get", "lease", "ajudaplay-lock", check=False).returncode == 0

    _kill_and_check(tmp_path, long_play, quick_play, lease_exists)
