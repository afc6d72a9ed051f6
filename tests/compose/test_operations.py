"""config, secret, certificate, check mode, locks and faults through `ajudaplay run`."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from tests.compose.conftest import Project, docker, make_cert, make_project

pytestmark = pytest.mark.docker

V1, V2 = "ajudaplay-test/api:v1", "ajudaplay-test/api:v2"


def started_at(project: Project, service: str) -> list[str]:
    return [c["State"]["StartedAt"] for c in project.containers(service)]


def test_config_change_restarts_unchanged_does_not(project: Project, tmp_path: Path) -> None:
    conf = tmp_path / "default.conf"
    conf.write_text("server { listen 8080; }  # v2\n")
    before = started_at(project, "nginx")
    files = json.dumps([str(conf)])

    changed = project.run("config.yml", "-e", f'{{"config_files": {files}}}', "--diff")
    assert changed.rc == 0, changed.text
    [res] = changed.results("Config files of the service")
    assert res["changed"] is True and any("default.conf" in d for d in json.dumps(res["diff"]).split(","))
    [change] = [d for d in res["diff"] if d["what"].endswith("default.conf")]
    assert change["what"] == "config config/nginx/default.conf"  # as the project names it, not the host's path
    assert change["after"] == "sha256:" + hashlib.sha256(conf.read_bytes()).hexdigest()
    assert (Path(project.dir) / "config/nginx/default.conf").read_text() == conf.read_text()
    after = started_at(project, "nginx")
    assert after != before  # restarted

    same = project.run("config.yml", "-e", f'{{"config_files": {files}}}')
    assert same.rc == 0, same.text
    assert same.results("Config files of the service")[0]["changed"] is False
    assert started_at(project, "nginx") == after  # not restarted


def test_secret_env_file_is_0600_and_values_never_shown(project: Project, tmp_path: Path) -> None:
    env = tmp_path / "api.env"
    env.write_text("DB_PASSWORD=s3cr3t-value-123\nAPI_TOKEN=tok-987654\n")
    playbook = tmp_path / "secret.yml"
    playbook.write_text(
        "- hosts: all\n  tasks:\n    - name: Secret\n      secret: {service: api, env_file: api.env}\n"
    )
    done = project.run(str(playbook), "--diff")
    assert done.rc == 0, done.text
    assert "s3cr3t-value-123" not in done.text and "tok-987654" not in done.text
    [res] = done.results("Secret")
    assert res["changed"] is True and sorted(res["data"]["keys"]) == ["API_TOKEN", "DB_PASSWORD"]
    path = Path(project.dir) / ".ajudaplay/env/api.env"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    inside = docker("exec", project.containers("api")[0]["Id"], "sh", "-c", "echo $DB_PASSWORD")
    assert inside.strip() == "s3cr3t-value-123"  # recreated with the new environment
    again = project.run(str(playbook))
    assert again.results("Secret")[0]["changed"] is False


def test_check_mode_changes_nothing(project: Project, tmp_path: Path) -> None:
    conf = tmp_path / "default.conf"
    conf.write_text("changed in check mode\n")
    before = project.snapshot()
    runs = [
        project.run("deploy.yml", "-e", f"image={V2}", "--check"),
        project.run("scale.yml", "-e", "replicas=3", "--check"),
        project.run("restart.yml", "--check"),
        project.run("config.yml", "-e", json.dumps({"config_files": [str(conf)]}), "--check"),
    ]
    for run in runs:
        assert run.rc == 0, run.text
    [would] = runs[0].results("Deploy the service")
    assert would["changed"] is True and "would deploy" in would["msg"]
    assert runs[1].results("Scale the service")[0]["diff"]
    assert project.snapshot() == before


HOLDING = """\
- hosts: all
  tasks:
    - name: Deploy
      deploy: {service: api, image: "{{ image }}", atomic: true}
    - name: Hold the lock until the test opens the gate
      shell: "while [ ! -e {{ gate }} ]; do sleep 0.1; done"
      timeout: 120
"""


def test_two_concurrent_runs_one_waits_for_the_lock(project: Project, tmp_path: Path) -> None:
    """While one run holds the environment, a second is refused (4) and changes nothing."""
    playbook, gate = tmp_path / "holding.yml", Path(project.dir) / "gate"  # the SSH user sees the project dir
    playbook.write_text(HOLDING)
    first = project.start(str(playbook), "-e", f"image={V2}", "-e", f"gate={gate}")
    lock = Path(project.dir) / ".ajudaplay/lock/owner.json"
    deadline = time.monotonic() + 60
    while not lock.exists() and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.05)
    assert lock.exists(), "first run never took the lock"
    try:
        second = project.run("deploy.yml", "-e", "image=ajudaplay-test/api:v3")
    finally:
        gate.touch()
    out, _ = first.communicate(timeout=120)
    assert first.returncode == 0, out
    assert second.rc == 4, second.text  # LOCK_HELD
    assert "locked by" in second.text and "run " in second.text
    assert project.images("api") == [V2] and project.healthy("api")  # nothing half-applied
    assert [r["image"] for r in project.revisions("api")] == [V1, V2]
    assert not lock.exists()  # released


def _live_containers(project: Project, service: str) -> list[dict[str, Any]]:
    """Like project.containers, but a container removed between `ps` and `inspect` is just gone."""
    ids = docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={project.name}",
                 "--filter", f"label=com.docker.compose.service={service}").split()
    found = [docker("inspect", i, check=False) for i in ids]
    return [c for text in found if text.strip() for c in json.loads(text)]


def test_container_killed_during_deploy_is_rolled_back_and_healthy(project: Project) -> None:
    """The new container dies before it was ever healthy: the atomic deploy fails (2) and v1 runs, healthy."""
    run = project.start("deploy.yml", "-e", f"image={V2}")
    deadline = time.monotonic() + 60
    killed_while: str | None = None
    while time.monotonic() < deadline and run.poll() is None and killed_while is None:
        for c in _live_containers(project, "api"):
            if c["Config"]["Image"] == V2 and c["State"]["Running"]:
                docker("kill", c["Id"], check=False)
                killed_while = c["State"].get("Health", {}).get("Status", "no healthcheck")
                break
        time.sleep(0.05)
    out, _ = run.communicate(timeout=120)
    assert killed_while == "starting", (killed_while, out)  # killed before its first passing health check
    assert run.returncode == 2, out
    assert "rolled back" in out.lower(), out
    deadline = time.monotonic() + 30
    while not project.healthy("api") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert project.healthy("api"), project.containers("api")
    assert project.images("api") == [V1], out
    committed = [r for r in project.revisions("api") if r["status"] == "committed"]
    assert committed[-1]["image"] == V1, project.revisions("api")  # the record matches what runs


@pytest.mark.ssh
def test_sshd_stopped_mid_run_fails_and_the_lock_can_be_cleared(request: pytest.FixtureRequest, tmp_path: Path, docker_engine: None) -> None:
    project = make_project(request, tmp_path, "ssh")
    sshd = request.getfixturevalue("sshd")
    run = project.start("deploy.yml", "-e", f"image={V2}")
    lock = Path(project.dir) / ".ajudaplay/lock/owner.json"
    deadline = time.monotonic() + 30
    while not lock.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    sshd.stop()
    try:
        out, _ = run.communicate(timeout=120)
    finally:
        sshd.start()
    assert run.returncode == 2, out
    assert "unreachable" in out.lower()
    # the host went down with the lock taken: it cannot be released, so it stays until its TTL (900 s)
    assert lock.exists(), out
    owner = json.loads(lock.read_text())
    assert 0 < owner["expires_at"] - time.time() <= 900, owner
    assert owner["expires_at"] - owner["acquired_at"] == pytest.approx(900, abs=1), owner
    unlocked = project.cli("unlock", "-i", str(project.inventory), "box", "--yes")
    assert unlocked.returncode == 0, unlocked.stdout + unlocked.stderr
    assert f"removed lock held by {owner['holder']}" in unlocked.stdout
    assert not lock.exists()
    after = project.run("deploy.yml", "-e", f"image={V2}")
    assert after.rc == 0, after.text
    assert project.images("api") == [V2]


def test_certificate_install_reload_and_min_days(project: Project, tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path, "good", days=90)
    done = project.run("cert-renew.yml", "-e", f"cert_file={cert}", "-e", f"key_file={key}")
    assert done.rc == 0, done.text
    [res] = done.results("Install the certificate from files")
    assert res["changed"] is True and res["data"]["days_left"] in (89, 90)
    key_on_host = Path(project.dir) / "certs/tls.key"
    assert stat.S_IMODE(key_on_host.stat().st_mode) == 0o600
    reloads = docker("exec", project.containers("nginx")[0]["Id"], "cat", "/www/reloads").strip()
    assert reloads == "1"
    again = project.run("cert-renew.yml", "-e", f"cert_file={cert}", "-e", f"key_file={key}")
    assert again.results("Install the certificate from files")[0]["changed"] is False
    short = project.run("cert-renew.yml", "-e", f"cert_file={cert}", "-e", f"key_file={key}", "-e", "min_days=120")
    assert short.rc == 2 and "fewer than min_days=120" in short.text


def test_certificate_renewal_command(project: Project, request: pytest.FixtureRequest) -> None:
    source = Path(f"{project.dir}-renewal")  # readable by the SSH user too
    source.mkdir(mode=0o755)
    request.addfinalizer(lambda: shutil.rmtree(source, ignore_errors=True))
    cert, key = make_cert(source, "renewed", days=60)
    for p in (cert, key):
        os.chmod(p, 0o644)
    command = f"mkdir -p certs && cp {cert} certs/tls.crt && cp {key} certs/tls.key"
    done = project.run("cert-renew.yml", "-e", json.dumps({"renew_command": command}))
    assert done.rc == 0, done.text
    [res] = done.results("Renew the certificate")
    assert res["changed"] is True and res["data"]["days_left"] in (59, 60)


def test_held_lock_names_holder_and_unlock_clears_it(request: pytest.FixtureRequest, tmp_path: Path, docker_engine: None) -> None:
    project = make_project(request, tmp_path, "local")
    lock = Path(project.dir) / ".ajudaplay/lock"
    lock.mkdir()
    now = time.time()
    (lock / "owner.json").write_text(json.dumps(
        {"holder": "alice@ops-laptop", "run_id": "r-123", "acquired_at": now, "expires_at": now + 600, "target": "box"}))
    held = project.run("deploy.yml", "-e", f"image={V2}")
    assert held.rc == 4 and "alice@ops-laptop" in held.text and "r-123" in held.text, held.text
    assert project.images("api") == [V1]
    unlocked = project.cli("unlock", "-i", str(project.inventory), "box", "--yes")
    assert unlocked.returncode == 0 and "alice@ops-laptop" in unlocked.stdout + unlocked.stderr
    assert not lock.exists()
    assert project.run("deploy.yml", "-e", f"image={V2}").rc == 0


VERB_SHAPES = """
- name: Shapes
  hosts: box
  tasks:
    - name: restart
      restart: {service: api}
    - name: scale
      scale: {service: api, replicas: 2}
    - name: exec
      exec: {service: api, command: "echo out; echo err >&2"}
"""


def test_restart_scale_and_exec_register_the_documented_keys(project: Project, tmp_path: Path) -> None:
    """restart registered nothing and scale an int `replicas` on Compose; now both the shared shape."""
    from ajudaplay.outcomes import ExecOutcome, RestartOutcome, ScaleOutcome

    playbook = tmp_path / "shapes.yml"
    playbook.write_text(VERB_SHAPES)
    run = project.run(str(playbook))
    assert run.rc == 0, run.text
    data = {e["task"]: e["data"] for e in run.results()}
    for task, cls in (("restart", RestartOutcome), ("scale", ScaleOutcome), ("exec", ExecOutcome)):
        wanted = [k for k in cls.registered_keys() if k not in cls.OPTIONAL]
        assert [k for k in wanted if k in data[task]] == wanted, (task, data[task])
    assert data["restart"]["replicas"] == {"desired": 1, "current": 1, "ready": 1, "available": 1}
    assert isinstance(data["restart"]["revision"], (int, type(None))) and data["restart"]["service"] == "api"
    assert data["scale"]["replicas"] == {"desired": 2, "current": 2, "ready": 2, "available": 2}
    assert data["exec"]["stdout_lines"] == ["out"] and data["exec"]["stderr_lines"] == ["err"]
    assert data["exec"]["rc"] == 0


def test_deploy_registers_the_image_that_runs_after_an_atomic_undo_and_in_check_mode(project: Project) -> None:
    """As on Kubernetes: `image` is what the service runs after the step, `revision` its number then."""
    bad = "ajudaplay-test/api:unhealthy"
    undone = project.run("deploy.yml", "-e", f"image={bad}")  # atomic by default
    assert undone.rc == 2, undone.text
    [result] = undone.results("Deploy the service")
    assert result["rolled_back"] is True
    assert (result["data"]["image"], result["data"]["revision"], result["data"]["rolled_back_to"]) == (V1, 1, 1)

    check = project.run("deploy.yml", "-e", f"image={V2}", "--check")
    [would] = check.results("Deploy the service")
    assert would["changed"] is True and would["data"]["image"] == V2 and would["data"]["revision"] == 1
    assert would["data"]["replicas"] == {"desired": 1, "current": 1, "ready": 1, "available": 1}
