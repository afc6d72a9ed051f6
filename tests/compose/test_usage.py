"""`usage` on a real Compose project (local and over SSH): docker stats numbers that move, limits from docker inspect."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.compose.conftest import Project, docker

MIB = 1048576
PLAYBOOK = """
- hosts: box
  tasks:
    - name: api
      usage: {service: api}
    - name: nginx
      usage: {service: nginx}
"""
ROW = {"pod", "container", "cpu_millicores", "memory_bytes", "cpu_limit_millicores", "cpu_percent",
       "memory_limit_bytes", "memory_percent"}


def usage(project: Project, playbook: Path, *args: str) -> tuple[dict[str, Any], dict[str, Any]]:
    run = project.run(str(playbook), *args)
    assert run.rc == 0, run.text
    [api], [nginx] = run.results("api"), run.results("nginx")
    for result in (api, nginx):
        assert result["status"] == "ok", result
        assert set(result["data"]) == {"service", "pods", "totals", "missing", "source"}
        assert all(set(row) == ROW for row in result["data"]["pods"])
        assert set(result["data"]["totals"]) == ROW - {"pod", "container"}
    return api["data"], nginx["data"]


def test_usage_moves_with_memory_and_reports_percent_of_limits(project: Project, tmp_path: Path) -> None:
    playbook = tmp_path / "usage.yml"
    playbook.write_text(PLAYBOOK)
    [api] = project.containers("api")
    docker("update", "--memory", "64m", "--memory-swap", "64m", "--cpus", "0.5", api["Id"])

    before, nginx = usage(project, playbook, "--check")  # read-only: runs in check mode
    [row] = before["pods"]
    assert (row["pod"], row["container"]) == (api["Name"].lstrip("/"), "api")
    assert (row["memory_limit_bytes"], row["cpu_limit_millicores"]) == (64 * MIB, 500.0)
    assert 0 < row["memory_bytes"] < 16 * MIB and row["cpu_millicores"] >= 0
    assert row["memory_percent"] == round(100 * row["memory_bytes"] / (64 * MIB), 1)
    assert before["totals"]["memory_limit_bytes"] == 64 * MIB and before["source"] == "docker stats"
    [front] = nginx["pods"]  # no limits: none reported (docker shows the host's memory there)
    assert front["memory_limit_bytes"] is None and front["memory_percent"] is None and front["cpu_percent"] is None
    assert front["memory_bytes"] > 0 and nginx["totals"]["memory_limit_bytes"] is None

    docker("exec", api["Id"], "sh", "-c", "head -c 30m /dev/zero > /dev/shm/ballast")  # tmpfs pages count
    deadline = time.monotonic() + 30
    while True:
        after, _ = usage(project, playbook)
        grown = after["pods"][0]["memory_bytes"] - row["memory_bytes"]
        if grown >= 28 * MIB or time.monotonic() > deadline:
            break
    assert grown >= 28 * MIB, (row, after)
    assert after["pods"][0]["memory_percent"] > 45.0
    docker("exec", api["Id"], "rm", "/dev/shm/ballast")
