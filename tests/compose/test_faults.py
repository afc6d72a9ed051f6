"""Compose state under faults, measured from outside on the real engine.

Runs are interrupted for real (SIGKILL / SIGINT of the `ajudaplay run` process
once its `compose up` has started, the SSH server killed with its sessions),
`up` fails for real (an image whose command does not exist, a host port held
by another container, a tag that does not exist), and every check uses the
independent `docker` CLI for what runs and `history` for what is recorded.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from tests.compose.conftest import FAST, Project, docker, make_project

pytestmark = pytest.mark.docker

V1, V2 = "ajudaplay-test/api:v1", "ajudaplay-test/api:v2"
BADSTART = "ajudaplay-test/api:badstart"  # its command does not exist: `up` fails when it starts it


@pytest.fixture(scope="module")
def badstart(docker_engine: None) -> str:
    """An image `compose up` cannot start (built here from api:v1: only the command differs)."""
    dockerfile = f'FROM {V1}\nCMD ["/no/such/command"]\n'
    done = subprocess.run(["docker", "build", "-q", "-t", BADSTART, "-"], input=dockerfile, text=True,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return BADSTART


# what is recorded, what runs ------------------------------------------------------------
def override_image(project: Project, service: str = "api") -> str | None:
    text = project.state_file("override.yml")
    return ((yaml.safe_load(text or "") or {}).get("services") or {}).get(service, {}).get("image")


def running_images(project: Project, service: str = "api") -> set[str]:
    return {c["Config"]["Image"] for c in project.containers(service) if c["State"]["Running"]}


def committed(project: Project, service: str = "api") -> list[str]:
    return [r["image"] for r in project.revisions(service) if r.get("status", "committed") == "committed"]


def triage(project: Project) -> tuple[dict[str, Any], list[str], Any]:
    """`history` through triage.yml (status first): the recorded current revision, and the warnings."""
    run = project.run("triage.yml")
    [hist] = run.results("Revisions of the service")
    warnings = [w for r in run.results() for w in r["warnings"]]
    data = hist["data"]
    current = next(r for r in data["revisions"] if r["revision"] == data["current"])
    return current, warnings, run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def compose_pids(project: Project) -> list[int]:
    """Processes of this project's `compose up` (local or under sshd: same machine)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if project.name.encode() in argv and b"up" in argv and any(b"compose" in a for a in argv):
            found.append(int(entry.name))
    return found


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def clear_lock(project: Project) -> None:
    """A run killed or cut off cannot release its lock: clear it the documented way."""
    if (Path(project.dir) / ".ajudaplay/lock").exists():
        done = project.cli("unlock", "-i", str(project.inventory), "box", "--yes")
        assert done.returncode == 0, done.stdout + done.stderr


# point 7: any failure after the first write is undone ---------------------------------------
@pytest.fixture(params=[("local", None), ("ssh", None), ("local", "docker-compose")],
                ids=["local", "ssh", "local-v1"])
def any_project(request: pytest.FixtureRequest, tmp_path: Path, docker_engine: None) -> Project:
    mode, cli = request.param
    extra = {"compose_command": cli} if cli else {}
    return make_project(request, tmp_path, mode, **extra)


def test_atomic_deploy_whose_up_fails_restores_override_and_containers(any_project: Project, badstart: str) -> None:
    project = any_project
    assert project.run("deploy.yml", "-e", f"image={V2}").rc == 0
    override_before = project.state_file("override.yml")

    done = project.run("deploy.yml", "-e", f"image={badstart}")
    assert done.rc == 2, done.text
    [result] = done.results("Deploy the service")
    assert result["rolled_back"] is True and "rolled back to revision 2" in result["msg"], result["msg"]
    assert project.state_file("override.yml") == override_before  # the next `up` starts v2, not badstart
    assert running_images(project) == {V2} and project.healthy("api")
    assert [c["Config"]["Image"] for c in project.containers("api")] == [V2]  # no created leftover
    assert committed(project) == [V1, V2]
    assert [(r["image"], r["status"]) for r in project.revisions("api") if r["status"] != "committed"] == \
        [(badstart, "aborted")]
    current, warnings, _ = triage(project)
    assert current["image"] == V2 and not warnings


def test_non_atomic_deploy_whose_up_fails_is_recorded_as_what_the_override_names(project: Project, badstart: str) -> None:
    done = project.run("deploy.yml", "-e", f"image={badstart}", "-e", "atomic=false")
    assert done.rc == 2, done.text
    assert override_image(project) == badstart  # kept, as a Deployment keeps its new template...
    current, warnings, _ = triage(project)
    assert current["image"] == badstart and "failed" in current["cause"]  # ...and recorded, never silent
    back = project.run("rollback.yml")
    assert back.rc == 0, back.text
    assert running_images(project) == {V1} and project.healthy("api") and override_image(project) == V1


def test_missing_image_tag_changes_nothing(project: Project) -> None:
    before = project.snapshot()
    done = project.run("deploy.yml", "-e", "image=ajudaplay-test/api:no-such-tag")
    assert done.rc == 2 and "cannot be pulled" in done.text, done.text
    assert project.snapshot() == before  # same containers, same override, same revisions


def test_port_taken_by_another_container_is_undone_and_a_rerun_converges(
    request: pytest.FixtureRequest, tmp_path: Path, docker_engine: None
) -> None:
    project = make_project(request, tmp_path, "local")
    port = free_port()
    holder = f"{project.name}-holder"
    docker("run", "-d", "--name", holder, "-p", f"127.0.0.1:{port}:8080", V1)
    request.addfinalizer(lambda: docker("rm", "-f", holder, check=False))
    # the compose file now asks for that port; the running v1 container predates the change
    again = project.run("compose-host.yml", *FAST, "-e", f"api_port=127.0.0.1:{port}:8080")
    assert again.rc != 0 or running_images(project) == {V1}
    override_before = project.state_file("override.yml")

    done = project.run("deploy.yml", "-e", f"image={V2}")
    assert done.rc == 2 and "already allocated" in done.text, done.text
    assert project.state_file("override.yml") == override_before
    assert committed(project) == [V1] and not [r for r in project.revisions("api") if r["status"] == "pending"]

    docker("rm", "-f", holder)
    rerun = project.run("deploy.yml", "-e", f"image={V2}")
    assert rerun.rc == 0, rerun.text
    assert running_images(project) == {V2} and project.healthy("api") and committed(project) == [V1, V2]


# point 16: a failed scale goes back; leftovers are not replicas --------------------------------
def test_failed_scale_returns_to_its_replica_count_and_deploy_still_works(
    request: pytest.FixtureRequest, tmp_path: Path, docker_engine: None
) -> None:
    project = make_project(request, tmp_path, "local", prepare=False)
    port = free_port()
    assert project.run("compose-host.yml", *FAST, "-e", f"api_port=127.0.0.1:{port}:8080").rc == 0
    [first] = project.containers("api")

    scaled = project.run("scale.yml", "-e", "replicas=2")  # a fixed host port cannot be shared
    assert scaled.rc == 2, scaled.text
    [res] = scaled.results("Scale the service")
    assert "back at 1 replica" in res["msg"], res["msg"]
    assert [c["Id"] for c in project.containers("api")] == [first["Id"]] and project.healthy("api")

    deployed = project.run("deploy.yml", "-e", f"image={V2}")
    assert deployed.rc == 0, deployed.text
    assert [c["Config"]["Image"] for c in project.containers("api")] == [V2] and project.healthy("api")


def test_deploy_does_not_count_exited_containers_as_replicas(project: Project) -> None:
    assert project.run("scale.yml", "-e", "replicas=2").rc == 0
    second = project.containers("api")[1]["Id"]
    docker("stop", second)
    done = project.run("deploy.yml", "-e", f"image={V2}")
    assert done.rc == 0, done.text
    [result] = done.results("Deploy the service")
    assert result["data"]["replicas"] == {"desired": 1, "current": 1, "ready": 1, "available": 1}  # one shape on both modes
    assert [c["Config"]["Image"] for c in project.containers("api")] == [V2] and project.healthy("api")


# point 15: the record follows what runs, after any interruption -------------------------------
INTERRUPTIONS = [("local", None, "sigkill"), ("local", "docker-compose", "sigkill"), ("local", None, "sigint"),
                 ("ssh", None, "sigkill"), ("ssh", None, "sshcut")]


@pytest.fixture(params=INTERRUPTIONS, ids=["-".join(filter(None, p)) for p in INTERRUPTIONS])
def interruption(request: pytest.FixtureRequest, tmp_path: Path, docker_engine: None) -> Iterator[tuple[Project, str]]:
    mode, cli, how = request.param
    extra = {"compose_command": cli} if cli else {}
    yield make_project(request, tmp_path, mode, **extra), how
    if how == "sshcut":
        request.getfixturevalue("sshd").start()


def test_interrupted_deploy_is_resolved_from_what_runs_and_a_rerun_converges(
    request: pytest.FixtureRequest, interruption: tuple[Project, str]
) -> None:
    project, how = interruption
    run = project.start("deploy.yml", "-e", f"image={V2}")
    wait_for(lambda: compose_pids(project) or run.poll() is not None, 60, "`compose up` to start")
    assert run.poll() is None, run.communicate()[0]
    if how == "sigkill":
        os.kill(run.pid, signal.SIGKILL)
    elif how == "sigint":
        os.kill(run.pid, signal.SIGINT)
    else:
        request.getfixturevalue("sshd").stop()
    out, _ = run.communicate(timeout=120)
    assert run.returncode != 0, out
    wait_for(lambda: not compose_pids(project), 120, "the orphaned `compose up` to finish")
    if how == "sshcut":
        request.getfixturevalue("sshd").start()
    clear_lock(project)
    time.sleep(1)

    current, warnings, _ = triage(project)
    runs = running_images(project)
    assert any("left pending" in w for w in warnings), (warnings, out)  # said so, not silently
    if len(runs) == 1:
        assert runs == {current["image"]}, (runs, current, warnings)
    assert override_image(project) == current["image"]
    assert not [r for r in project.revisions("api") if r["status"] == "pending"]

    again = project.run("deploy.yml", "-e", f"image={V2}")
    assert again.rc == 0, again.text
    assert [c["Config"]["Image"] for c in project.containers("api")] == [V2] and project.healthy("api")
    assert committed(project)[-1] == V2 and override_image(project) == V2
    current, warnings, _ = triage(project)
    assert current["image"] == V2 and not warnings


def test_changes_made_by_hand_are_recorded_with_a_warning_and_a_journal_entry(
    project: Project, tmp_path: Path
) -> None:
    assert project.run("deploy.yml", "-e", f"image={V2}").rc == 0
    compose = ["docker", "compose", "-p", project.name, "-f", f"{project.dir}/docker-compose.yml"]
    with_override = [*compose, "-f", f"{project.dir}/.ajudaplay/override.yml"]

    with open(Path(project.dir) / ".env", "a") as env:  # same image, other configuration
        env.write("EXTRA_SETTING=by-hand\n")
    subprocess.run([*with_override, "up", "-d", "api"], cwd=project.dir, check=True, capture_output=True)
    _, warnings, _ = triage(project)
    assert any("config-hash" in w for w in warnings), warnings

    subprocess.run([*compose, "up", "-d", "api"], cwd=project.dir, check=True, capture_output=True)  # no override
    assert running_images(project) == {V1}
    journal = tmp_path / "by-hand.sqlite"
    done = project.cli("run", str(Path(__file__).parents[2] / "playbooks/triage.yml"), "-i", str(project.inventory),
                       "--journal", str(journal), "--output", "json")
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    [status] = [e for e in events if e.get("event") == "task_result" and e["task"] == "Status of the service"]
    assert any("changed outside ajudaplay" in w for w in status["warnings"]), status
    assert status["revisions"] == [{"service": "api", "before": "2", "after": "3", "image": V1}]
    run_id = events[0]["run_id"]
    shown = json.loads(project.cli("show", run_id, "--journal", str(journal), "--output", "json").stdout)
    assert [(r["before"], r["after"], r["image"]) for r in shown["revisions"]] == [("2", "3", V1)], shown
    current, warnings, _ = triage(project)
    assert current["image"] == V1 and override_image(project) == V1 and not warnings
