"""The incident verbs and playbooks on one real Compose project (local; the SSH path is the Compose tests'):
`environment` (names from `docker inspect`, cut on the host; env file refs), triage-service-down.yml right
after a bad deploy journaled by a real run (the verdict names the rollback), and triage-wont-start.yml on a
service whose command exits when TELEGRAM_BOT_TOKEN is not set (the crashed container still answers), then
incident.yml on that service (the summary points at the recent deploy).
The tests share the project and run in file order: each leaves the service worse than it found it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.compose.conftest import AJUDAPLAY, PLAYBOOKS, Project, Run, docker, make_project

VALUE = "pw-7s8d9f-only-in-the-env-file"
BAD = "ajudaplay-test/api:unhealthy"
CRASH = ('[ -n "$TELEGRAM_BOT_TOKEN" ] || { echo "fatal: TELEGRAM_BOT_TOKEN is not set" >&2; exit 3; }; exec start')


@pytest.fixture(scope="module")
def box(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, docker_engine: None) -> Project:
    """One prepared local project whose inventory says which variables api expects."""
    project = make_project(request, tmp_path_factory.mktemp("incident"), "local")
    inv = json.loads(project.inventory.read_text())
    inv["targets"]["box"]["services"]["api"]["env"] = ["DB_URL", "TELEGRAM_BOT_TOKEN"]
    project.inventory.write_text(json.dumps(inv))
    return project


def journaled(project: Project, playbook: str, *args: str) -> Run:
    """A run that writes the journal (Project.run passes --no-journal)."""
    path = playbook if playbook.startswith("/") else str(PLAYBOOKS / playbook)
    done = subprocess.run([AJUDAPLAY, "run", path, "-i", str(project.inventory), "--output", "json", *args],
                          capture_output=True, text=True, timeout=180, env=project.env)
    return Run(done.returncode, done.stdout, done.stderr,
               [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")])


def data(run: Run, task: str) -> dict[str, Any]:
    [result] = run.results(task)
    assert result["status"] in ("ok", "changed"), result
    out: dict[str, Any] = result["data"]
    return out


def summary(run: Run) -> str:
    [line] = run.results("Summary")
    return str(line["msg"])


def env_names(project: Project) -> set[str]:
    newest = max(project.containers("api"), key=lambda c: c["Created"])
    return {e.split("=", 1)[0] for e in newest["Config"]["Env"]}


def test_environment_names_and_env_file_refs(box: Project, tmp_path: Path) -> None:
    playbook = tmp_path / "env.yml"
    playbook.write_text("""
- hosts: box
  tasks:
    - secret: {service: api, values: {DB_URL: "%s"}, restart: true}
    - name: env
      environment: {service: api}
""" % VALUE)
    run = box.run(str(playbook), "-e", "healthcheck_interval=1s")
    assert run.rc == 0, run.text
    env = data(run, "env")
    assert env["names"] == sorted(env_names(box)) and "DB_URL" in env["names"]
    assert env["expected"] == ["DB_URL", "TELEGRAM_BOT_TOKEN"] and env["missing"] == ["TELEGRAM_BOT_TOKEN"]
    [ref] = env["refs"]
    assert ref == {"name": "DB_URL", "kind": "env_file", "source": f"{box.dir}/.ajudaplay/env/api.env",
                   "key": "DB_URL", "present": True}
    assert env["limits"] == {"memory_bytes": None, "cpu_millicores": None}
    assert VALUE not in run.stdout + run.stderr

    # the env file gone: the ref says so (the container keeps the names it was created with)
    Path(ref["source"]).unlink()
    again = data(box.run(str(playbook), "--check"), "env")
    assert {"name": None, "kind": "env_file", "source": ref["source"], "key": None, "present": False} in again["refs"]
    Path(ref["source"]).write_text(f"DB_URL={VALUE}\n")


def test_triage_service_down_after_a_bad_deploy_suggests_the_rollback(box: Project) -> None:
    bad = journaled(box, "deploy.yml", "-e", f"image={BAD}", "-e", "atomic=false", "-e", "deploy_timeout=8",
                    "-e", "healthcheck_interval=1s")
    assert bad.rc != 0, bad.text
    triage = box.run("triage-service-down.yml")
    assert triage.rc == 0, triage.text
    recent = data(triage, "Changes in the window")
    [deploy] = recent["runs"]
    assert (deploy["playbook"].endswith("deploy.yml"), deploy["status"], deploy["user"]) == (True, "failed", deploy["user"])
    assert [m["image"] for m in deploy["revisions"]] == [BAD]
    revisions = box.revisions("api")
    newest = recent["newest"]
    assert (newest["revision"], newest["image"], newest["current"], newest["in_window"]) == (
        revisions[-1]["revision"], BAD, True, True)
    assert recent["recent"] is True and recent["previous"] == revisions[-2]["revision"]
    assert [r["revision"] for r in recent["revisions"]] == sorted((r["revision"] for r in revisions), reverse=True)
    line = summary(triage)
    assert f"down on revision {newest['revision']} ({BAD}" in line, line
    assert "ajudaplay run playbooks/rollback.yml -i inventory -l box -e service=api" in line, line
    assert f"(to revision {revisions[-2]['revision']})" in line, line


def test_triage_wont_start_names_the_missing_variable(box: Project) -> None:
    compose_file = Path(box.dir) / "docker-compose.yml"
    text = compose_file.read_text()
    compose_file.write_text(text.replace("  api:\n", "  api:\n    command: [\"sh\", \"-c\", %s]\n" % json.dumps(CRASH), 1))
    override = Path(box.dir) / ".ajudaplay" / "override.yml"
    docker_compose = ["docker", "compose", "-p", box.name, "-f", str(compose_file), "-f", str(override)]
    up = subprocess.run([*docker_compose, "up", "-d", "--no-deps", "api"], cwd=box.dir, capture_output=True, text=True,
                        timeout=120)
    assert up.returncode == 0, up.stderr
    [crashed] = box.containers("api")
    assert docker("wait", crashed["Id"]).strip() == "3"

    run = box.run("triage-wont-start.yml")
    assert run.rc == 0, run.text
    env = data(run, "Environment of the service (names only)")
    assert env["names"] == sorted(env_names(box)) and env["missing"] == ["TELEGRAM_BOT_TOKEN"]
    # restarted in place (the project's restart policy): Docker keeps the crash in the current logs
    assert data(run, "Logs of the crashed container (previous)")["count"] == 0
    now = data(run, "Logs of the service now (a container restarted in place keeps its earlier output there)")
    assert any("fatal: TELEGRAM_BOT_TOKEN is not set" in line for line in now["lines"]), now
    line = summary(run)
    assert line.startswith("box api: cause: missing env TELEGRAM_BOT_TOKEN; fix: add TELEGRAM_BOT_TOKEN to"), line
    assert "evidence: Restart" in line and line.endswith("fatal: TELEGRAM_BOT_TOKEN is not set)"), line


def test_incident_on_the_failing_service_points_at_the_recent_deploy(box: Project) -> None:
    """The bad deploy of the second test is still the newest revision, minutes old: service-down, rollback."""
    run = box.run("incident.yml", "-e", "window=10m")
    assert run.rc == 0, run.text
    assert run.results("Announce the investigation")[0]["status"] == "skipped"  # no `notify` in this inventory
    [line] = run.results("Incident summary")
    assert line["msg"].startswith("box api: PROBLEMS: not healthy: 0/1 ready"), line["msg"]
    assert "error lines in 10m" in line["msg"] and "1 change run(s) in 1h (last: " in line["msg"], line["msg"]
    assert line["msg"].endswith("min old: rollback.yml -i inventory -l box)"), line["msg"]
    assert "next: triage-service-down.yml (revision 2 is " in line["msg"], line["msg"]
