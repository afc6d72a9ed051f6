"""ServiceData on Compose (compose/workspace.py): real Docker, `@local` and over SSH (the engine on the host).

A project of its own: the api test image running as uid 1000 with a named
volume on /app/data (what a service keeping its SQLite database looks like).
The target is driven in-process; every effect is checked with the docker CLI
as the independent client (docker exec, docker inspect, docker ps).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import threading
import tracemalloc
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from ajudaplay.errors import Interrupted, Mark, TargetError
from ajudaplay.inventory.model import TargetSpec
from ajudaplay.targets.base import StepContext, data_of
from ajudaplay.targets.compose import ComposeTarget
from ajudaplay.targets.workspace import FileMissing
from tests.compose.conftest import docker, ssh_connection

pytestmark = pytest.mark.docker

SIZE = 50 * 1024 * 1024
PEAK_LIMIT = 8 * 1024 * 1024
COMPOSE = """services:
  api:
    image: ajudaplay-test/api:v1
    user: "1000:1000"
    restart: unless-stopped
    ports: ["127.0.0.1::8080"]
    volumes: ["data:/app/data"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O-", "http://127.0.0.1:8080/health"]
      interval: 1s
      timeout: 2s
      retries: 3
volumes:
  data: {}
"""


def step(timeout: float | None = 120) -> StepContext:
    return StepContext(run_id="test-run", timeout=timeout, cancel=threading.Event())


class DataProject:
    """A Compose project with a volume on /app/data, started with `docker compose` (not with ajudaplay)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.name = f"ajw{mode[0]}{uuid.uuid4().hex[:8]}"
        self.dir = f"/tmp/ajudaplay-ct/{self.name}"
        os.makedirs(self.dir, mode=0o755)
        os.chmod(self.dir, 0o755)
        Path(self.dir, "docker-compose.yml").write_text(COMPOSE)
        os.chmod(Path(self.dir, "docker-compose.yml"), 0o644)

    def compose(self, *args: str) -> None:
        done = subprocess.run(["docker", "compose", "-p", self.name, "-f", f"{self.dir}/docker-compose.yml", *args],
                              capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr

    def up(self, replicas: int = 1) -> None:
        self.compose("up", "-d", "--wait", "--scale", f"api={replicas}")
        for cid in self.ids():  # the volume's folder belongs to the service's user, as an image would set it up
            docker("exec", "-u", "0", cid, "chown", "1000:1000", "/app/data")

    def ids(self) -> list[str]:
        return docker("ps", "-aq", "--no-trunc", "--filter", f"label=com.docker.compose.project={self.name}",
                      "--filter", "label=com.docker.compose.service=api").split()

    def inspect(self) -> list[dict[str, Any]]:
        ids = self.ids()
        return json.loads(docker("inspect", *ids)) if ids else []

    def helpers(self) -> list[str]:
        return docker("ps", "-aq", "--filter", f"label=ajudaplay.data-for={self.name}/api").split()

    def cleanup(self) -> None:
        for helper in self.helpers():
            docker("rm", "-f", helper, check=False)
        subprocess.run(["docker", "compose", "-p", self.name, "-f", f"{self.dir}/docker-compose.yml", "down", "-v",
                        "-t", "1"], capture_output=True, timeout=120)
        subprocess.run(["rm", "-rf", self.dir])


@pytest.fixture(params=["local", pytest.param("ssh", marks=pytest.mark.ssh)])
def project(request: pytest.FixtureRequest, docker_engine: None) -> Iterator[DataProject]:
    os.makedirs("/tmp/ajudaplay-ct", mode=0o1777, exist_ok=True)
    os.chmod("/tmp/ajudaplay-ct", 0o1777)
    proj = DataProject(request.param)
    try:
        proj.up()
        yield proj
    finally:
        proj.cleanup()


@pytest.fixture
def box(project: DataProject, request: pytest.FixtureRequest) -> Iterator[ComposeTarget]:
    """The project's Compose target (over SSH when the project is), opened as a run opens it."""
    connection = {"host": "@local"} if project.mode == "local" else ssh_connection(request.getfixturevalue("sshd"))
    connection.update(project_dir=project.dir, project_name=project.name)
    spec = TargetSpec(name="box", kind="compose", mark=Mark("inventory.yml", 1, 1), connection=connection,
                      services={"api": {"service": "api"}})
    target = ComposeTarget(spec)
    target.open()
    try:
        yield target
    finally:
        target.close()


LOCAL_ONLY = pytest.mark.parametrize("project", ["local"], indirect=True)


def in_container(cid: str, *argv: str, user: str = "0") -> str:
    return docker("exec", "-u", user, cid, *argv)


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The host temp folders this test's workspace picked (other engineers' runs make their own meanwhile)."""
    from ajudaplay.targets.compose import workspace

    picked: list[str] = []
    original = workspace._host_folder

    def recording() -> str:
        picked.append(original())
        return picked[-1]

    monkeypatch.setattr(workspace, "_host_folder", recording)
    return picked


def left_on_host(made: list[str]) -> list[str]:
    """Those of the picked host folders that still exist (the Compose host is this machine in both modes)."""
    assert made, "no host folder was used"
    return [folder for folder in made if os.path.exists(folder)]


def random_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        for _ in range(size // (1 << 20)):
            chunk = os.urandom(1 << 20)
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


class Sink:
    """Keeps a sha256 only; sets `cancel` once `after` bytes arrived."""

    def __init__(self, cancel: threading.Event | None = None, after: int = 0) -> None:
        self.digest, self.count, self.cancel, self.after = hashlib.sha256(), 0, cancel, after

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.count += len(data)
        if self.cancel is not None and self.count >= self.after:
            self.cancel.set()
        return len(data)


def test_compose_declares_service_data(box: ComposeTarget) -> None:
    assert data_of(box, "backup") is box


def test_live_run_output_exit_status_stdin_and_missing_command(box: ComposeTarget, project: DataProject, made: list[str]) -> None:
    with box.live_workspace(step(), "api") as ws:
        assert ws.where == f"container {project.inspect()[0]['Name'].lstrip('/')}"
        ran = ws.run(["sh", "-c", 'echo "out $1"; echo err >&2; exit 3', "sh", "a b; $(x)"])
        assert (ran.rc, ran.stdout, ran.stderr) == (3, b"out a b; $(x)\n", b"err\n")
        assert ws.run(["id", "-u"]).stdout == b"1000\n"  # the service's own user
        assert ws.run(["cat"], stdin=b"PRAGMA integrity_check;\n").stdout == b"PRAGMA integrity_check;\n"
        binary = bytes(range(256)) * 3
        assert ws.run(["sha256sum"], stdin=binary).stdout.split()[0].decode() == hashlib.sha256(binary).hexdigest()
        missing = ws.run(["sqlite3", "-version"])
        assert missing.rc == 127 and b"executable file not found" in missing.stderr
    assert left_on_host(made) == []


def test_live_50mb_round_trip_streams_and_checks(box: ComposeTarget, project: DataProject, tmp_path: Path, made: list[str]) -> None:
    src = tmp_path / "db.bin"
    sha = random_file(src, SIZE)
    cid = project.ids()[0]
    with box.live_workspace(step(), "api") as ws:
        tracemalloc.start()
        try:
            with open(src, "rb") as handle:
                assert ws.write_from(handle, SIZE, "/app/data/.ajudaplay-restore-x.db") == sha
            sink = Sink()
            assert ws.read_to("/app/data/.ajudaplay-restore-x.db", sink) == sha  # type: ignore[arg-type]
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert sink.count == SIZE and sink.digest.hexdigest() == sha
    assert peak < PEAK_LIMIT, f"peak {peak / 1e6:.1f} MB for {SIZE / 1e6:.0f} MB each way: buffered, not streamed"
    assert in_container(cid, "sha256sum", "/app/data/.ajudaplay-restore-x.db").split()[0] == sha
    # docker cp creates root's files: this one has its folder's owner (the service can open it), 0600
    assert in_container(cid, "stat", "-c", "%u:%g %a", "/app/data/.ajudaplay-restore-x.db").strip() == "1000:1000 600"
    assert left_on_host(made) == []


@LOCAL_ONLY
def test_live_missing_folder_short_source_and_no_container(box: ComposeTarget, project: DataProject, made: list[str]) -> None:
    with box.live_workspace(step(), "api") as ws:
        with pytest.raises(FileMissing, match=r"/app/data/nothing.db does not exist in container "):
            ws.read_to("/app/data/nothing.db", Sink())  # type: ignore[arg-type]
        with pytest.raises(TargetError, match=r"reading /app/data in container .*not a regular file"):
            ws.read_to("/app/data", Sink())  # type: ignore[arg-type]
        with pytest.raises(TargetError, match=r"the source ended after 5 of 10 bytes; nothing was copied"):
            ws.write_from(io.BytesIO(b"12345"), 10, "/app/data/short.db")
        with pytest.raises(TargetError, match=r"writing /no/such/dir/x.db in container "):
            ws.write_from(io.BytesIO(b"12345"), 5, "/no/such/dir/x.db")
        assert ws.write_from(io.BytesIO(b"1234567890"), 5, "/app/data/five.db") == hashlib.sha256(b"12345").hexdigest()
    cid = project.ids()[0]
    assert in_container(cid, "ls", "-A", "/app/data").split() == ["five.db"]
    assert left_on_host(made) == []
    docker("stop", "-t", "1", cid)
    with pytest.raises(TargetError, match=r"service 'api' has no running container \(Compose service 'api'\)"):
        with box.live_workspace(step(), "api"):
            pass


def test_cancel_mid_read_stops_and_leaves_no_host_copy(box: ComposeTarget, project: DataProject, made: list[str]) -> None:
    cid = project.ids()[0]
    in_container(cid, "sh", "-c", f"head -c {SIZE} /dev/urandom > /app/data/big.db", user="1000")
    ctx = step()
    with box.live_workspace(ctx, "api") as ws:
        sink = Sink(ctx.cancel, after=4 << 20)
        with pytest.raises(Interrupted):
            ws.read_to("/app/data/big.db", sink)  # type: ignore[arg-type]
    assert 0 < sink.count < SIZE
    assert left_on_host(made) == []


def test_offline_stops_works_on_the_volumes_and_starts_again(box: ComposeTarget, project: DataProject) -> None:
    project.compose("up", "-d", "--wait", "--scale", "api=2")  # two replicas: both stop, both come back
    before = {c["Id"]: c["State"]["StartedAt"] for c in project.inspect()}
    assert len(before) == 2
    first = project.ids()[0]
    in_container(first, "sh", "-c", "echo live > /app/data/app.db", user="1000")
    logged: list[str] = []
    ctx = StepContext(run_id="test-run", timeout=120, cancel=threading.Event(), log=logged.append)
    with box.offline(ctx, "api") as ws:
        states = {c["Id"]: c["State"]["Running"] for c in project.inspect()}
        assert states == {cid: False for cid in before}, "the service's containers are stopped"
        helper = json.loads(docker("inspect", *project.helpers()))[0]
        assert ws.where.startswith(f"one-off container {helper['Name'].lstrip('/')} (volumes of ")
        assert helper["HostConfig"]["NetworkMode"] == "none" and helper["Config"]["User"] == "1000:1000"
        assert ws.run(["cat", "/app/data/app.db"]).stdout == b"live\n"  # the same volume at the same path
        assert ws.write_from(io.BytesIO(b"restored\n"), 9, "/app/data/.ajudaplay-restore-1.db")
        assert ws.run(["mv", "/app/data/.ajudaplay-restore-1.db", "/app/data/app.db"]).ok
    assert project.helpers() == [], "the one-off container is removed"
    after = project.inspect()
    assert {c["Id"] for c in after} == set(before), "started again, not recreated"
    assert all(c["State"]["Running"] and c["State"]["Health"]["Status"] == "healthy" for c in after)
    assert all(c["State"]["StartedAt"] != before[c["Id"]] for c in after)
    assert in_container(first, "cat", "/app/data/app.db") == "restored\n"
    assert any(line.startswith("stopping api") for line in logged) and any("healthy" in line for line in logged)


@LOCAL_ONLY
def test_offline_failure_inside_still_starts_the_service(box: ComposeTarget, project: DataProject) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with box.offline(step(), "api") as ws:
            assert ws.run(["true"]).ok
            raise RuntimeError("boom")
    assert project.helpers() == []
    (c,) = project.inspect()
    assert c["State"]["Running"] and c["State"]["Health"]["Status"] == "healthy"


def test_offline_interrupted_starts_again_without_waiting(box: ComposeTarget, project: DataProject) -> None:
    ctx = step()
    with pytest.raises(Interrupted):
        with box.offline(ctx, "api") as ws:
            threading.Timer(1.0, ctx.cancel.set).start()  # Ctrl-C while a command runs in the one-off container
            ws.run(["sleep", "30"])
    assert project.helpers() == []
    (c,) = project.inspect()
    assert c["State"]["Running"], "the service was started again"


@LOCAL_ONLY
def test_offline_removes_a_leftover_one_off_of_an_interrupted_run(box: ComposeTarget, project: DataProject) -> None:
    cid = project.ids()[0]
    leftover = docker("run", "-d", "--label", f"ajudaplay.data-for={project.name}/api", "--volumes-from", cid,
                      "--entrypoint", "sh", "ajudaplay-test/api:v1", "-c", "sleep 300").strip()
    with box.offline(step(), "api"):
        assert leftover[:12] not in " ".join(project.helpers())
        assert len(project.helpers()) == 1
    assert project.helpers() == []


@LOCAL_ONLY
def test_a_file_written_while_it_is_read_is_refused(box: ComposeTarget, project: DataProject, made: list[str]) -> None:
    """docker cp takes one moment, sha256sum in the container a later one: a live file cannot pass as a copy."""
    cid = project.ids()[0]
    in_container(cid, "sh", "-c", "head -c 2000000 /dev/urandom > /app/data/live.db", user="1000")
    writer = subprocess.Popen(["docker", "exec", "-u", "1000", cid, "sh", "-c",
                               "while :; do echo row >> /app/data/live.db; done"])
    try:
        with box.live_workspace(step(), "api") as ws:
            with pytest.raises(TargetError, match=r"the container computed sha256 .* but the controller received .*"
                                                  r"the file changed while it was read \(read a snapshot"):
                ws.read_to("/app/data/live.db", Sink())  # type: ignore[arg-type]
    finally:
        writer.kill()
        docker("exec", cid, "sh", "-c", "pkill -f 'echo row' || true", check=False)
    assert left_on_host(made) == []


@pytest.fixture(scope="module")
def no_shell_image(docker_engine: None) -> str:
    """An image with busybox under one name only (no `sh`): what a distroless service image looks like."""
    tag = "ajudaplay-test/noshell:ws"
    if subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode:
        script = ("set -e; d=$(mktemp -d); mkdir -p $d/bin $d/www $d/app/data; cp /bin/busybox $d/bin/busybox; "
                  f"tar -C $d -c . | docker import -c 'ENTRYPOINT [\"/bin/busybox\", \"httpd\", \"-f\", \"-p\", "
                  f"\"8080\", \"-h\", \"/www\"]' - {tag} >/dev/null; rm -rf $d")
        subprocess.run(["sh", "-c", script], check=True, timeout=120)
    return tag


@LOCAL_ONLY
def test_offline_on_an_image_without_sh_fails_clearly_and_the_service_runs_again(
        box: ComposeTarget, project: DataProject, no_shell_image: str) -> None:
    compose = Path(project.dir, "docker-compose.yml")
    compose.write_text(COMPOSE.replace("ajudaplay-test/api:v1", no_shell_image).replace(
        '["CMD", "wget", "-q", "-O-", "http://127.0.0.1:8080/health"]', '["NONE"]'))
    project.compose("up", "-d")
    (before,) = project.inspect()
    with pytest.raises(TargetError, match=r"(?s)starting a one-off container on the volumes of .* failed: .*"
                                          r"the service's image needs sh"):
        with box.offline(step(), "api"):
            pytest.fail("the body must not run without a workspace")
    assert project.helpers() == []
    (after,) = project.inspect()
    assert after["Id"] == before["Id"] and after["State"]["Running"], "the stopped container was started again"


@LOCAL_ONLY
def test_a_command_past_its_timeout_is_stopped_in_the_container(box: ComposeTarget, project: DataProject) -> None:
    cid = project.ids()[0]
    with box.live_workspace(step(), "api") as ws:
        with pytest.raises(TargetError, match=r"sleep 300 did not finish within 1s in container .*; the command was "
                                              r"stopped in the container"):
            ws.run(["sleep", "300"], timeout=1)
    assert "sleep 300" not in docker("top", cid)


@LOCAL_ONLY
def test_offline_on_a_stopped_service_uses_its_volumes_and_starts_it(box: ComposeTarget, project: DataProject) -> None:
    """A service that is down (crashed on a corrupted database, stopped by hand) comes back after its file work."""
    cid = project.ids()[0]
    in_container(cid, "sh", "-c", "echo old > /app/data/app.db", user="1000")
    docker("stop", "-t", "1", cid)
    logged: list[str] = []
    with box.offline(StepContext(run_id="test-run", timeout=120, cancel=threading.Event(), log=logged.append),
                     "api") as ws:
        assert ws.run(["cat", "/app/data/app.db"]).stdout == b"old\n"
    (c,) = project.inspect()
    assert c["Id"] == cid and c["State"]["Running"] and c["State"]["Health"]["Status"] == "healthy"
    assert "api is not running: no container to stop" in logged
