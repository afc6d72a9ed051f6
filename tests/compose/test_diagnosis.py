"""`status.why` on a real Compose project: failing health checks, exit code, OOMKilled; checked with `docker inspect`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.compose.conftest import Project, docker, make_project

BAD = "ajudaplay-test/api:unhealthy"  # no /health: the healthcheck never passes
KEYS = {"object", "pod", "container", "reason", "message", "exit_code", "count", "last_seen", "source"}

PLAYBOOK = """
- hosts: box
  tasks:
    - name: healthy nginx
      status: {service: nginx}
    - name: api never healthy
      deploy: {service: api, image: %s, atomic: false, timeout: 6}
      ignore_errors: true
    - name: api
      status: {service: api}
""" % BAD


@pytest.fixture
def local(request: pytest.FixtureRequest, tmp_path: Path, docker_engine: None) -> Project:
    return make_project(request, tmp_path, "local")


def status_data(run: Any, task: str) -> dict[str, Any]:
    [result] = run.results(task)
    data: dict[str, Any] = result["data"]
    assert all(set(entry) == KEYS for entry in data["why"]), data["why"]
    return data


def test_why_shows_failing_health_checks_then_the_exit_code_and_oom_kill(local: Project, tmp_path: Path) -> None:
    playbook = tmp_path / "why.yml"
    playbook.write_text(PLAYBOOK)
    run = local.run(str(playbook), "-e", "healthcheck_interval=1s")
    assert status_data(run, "healthy nginx")["why"] == []

    data = status_data(run, "api")
    assert data["healthy"] is False
    [inspect] = local.containers("api")
    failing = [(e["ExitCode"], e["Output"].strip()) for e in inspect["State"]["Health"]["Log"] if e["ExitCode"] != 0]
    health = [e for e in data["why"] if e["source"] == "health"]
    assert health and all(e["reason"] == "Unhealthy" and e["pod"] == inspect["Name"].lstrip("/") for e in health)
    assert all((e["exit_code"], e["message"]) in failing for e in health), (health, failing)
    assert any("404" in e["message"] for e in health), health  # busybox wget: the image has no /health
    assert sum(e["count"] for e in health) <= len(failing) and all(e["container"] == "api" for e in health)
    [result] = run.results("api")
    assert "why: Unhealthy" in result["msg"]

    # the engine's cgroup OOM-kills a process of the container, then the container is killed: OOMKilled, 137
    cid = inspect["Id"]
    docker("update", "--memory", "16m", "--memory-swap", "16m", cid)
    docker("exec", cid, "sh", "-c", "head -c 64m /dev/zero | tail", check=False)
    docker("kill", cid)
    docker("wait", cid)  # kill returns once signalled, not once exited
    triage = local.run("triage.yml")
    data = status_data(triage, "Status of the service")
    [after] = local.containers("api")
    assert after["State"]["OOMKilled"] is True and after["State"]["ExitCode"] == 137
    [ended] = [e for e in data["why"] if e["source"] == "terminated"]
    assert (ended["reason"], ended["exit_code"], ended["last_seen"]) == ("OOMKilled", 137, after["State"]["FinishedAt"])
    assert ended["message"] == "exited with code 137 (killed: out of memory)"
    shown = json.dumps(triage.results())
    assert "OOMKilled (exit 137) x1: exited with code 137" in shown, shown


def test_exit_code_of_a_killed_container(local: Project, tmp_path: Path) -> None:
    [inspect] = local.containers("api")
    docker("kill", "--signal", "KILL", inspect["Id"])
    assert docker("wait", inspect["Id"]).strip() == "137"  # kill returns once signalled, not once exited
    data = status_data(local.run("triage.yml"), "Status of the service")
    assert [(e["reason"], e["exit_code"], e["source"]) for e in data["why"]] == [("Error", 137, "terminated")]
    assert data["why"][0]["pod"] == inspect["Name"].lstrip("/") and data["why"][0]["count"] == 1
