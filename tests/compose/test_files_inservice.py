"""fetch/upload, logs (tail, since, previous) and a stoppable exec on Compose: real Docker, `@local` and SSH.

The target is driven in-process (ComposeTarget on a project compose-host.yml prepared); every
outcome is checked with the docker CLI as the independent client (docker cp, docker exec, docker top).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from ajudaplay.errors import Interrupted, Mark, TargetError
from ajudaplay.inventory.model import TargetSpec
from ajudaplay.targets.base import StepContext
from ajudaplay.targets.compose import ComposeTarget
from tests.compose.conftest import Project, docker, ssh_connection

pytestmark = pytest.mark.docker


def step(check: bool = False, timeout: float | None = 60) -> StepContext:
    return StepContext(run_id="test-run", check=check, timeout=timeout, cancel=threading.Event())


@pytest.fixture
def box(project: Project, request: pytest.FixtureRequest) -> Iterator[ComposeTarget]:
    """The project's Compose target, opened as a run opens it."""
    connection = {"host": "@local"} if project.mode == "local" else ssh_connection(request.getfixturevalue("sshd"))
    connection.update(project_dir=project.dir, project_name=project.name, host_key_check=True)
    spec = TargetSpec(name="box", kind="compose", mark=Mark("inventory.yml", 1, 1), connection=connection,
                      services={"api": {"service": "api"}, "nginx": {"service": "nginx"}})
    target = ComposeTarget(spec)
    target.open()
    try:
        yield target
    finally:
        target.close()


def api_id(project: Project) -> str:
    return str(project.containers("api")[0]["Id"])


# What does not depend on how the archive travels runs on the local host only (CI time):
# the SSH hop is covered by the round trips, the stopped container and the stop tests.
LOCAL_ONLY = pytest.mark.parametrize("project", ["local"], indirect=True)


def blob() -> bytes:
    return os.urandom(200_000) + b"\0\0\r\n\xff\x00" + bytes(range(256))


def in_container(project: Project, path: str) -> bytes:
    """A file's bytes as `docker exec cat` reads them (not through ajudaplay)."""
    return subprocess.run(["docker", "exec", api_id(project), "cat", path], capture_output=True, check=True).stdout


def test_binary_file_round_trip_checksums_and_unchanged(project: Project, box: ComposeTarget, tmp_path: Path) -> None:
    data = blob()
    src = tmp_path / "blob.bin"
    src.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    would = box.upload(step(check=True), "api", src, "/tmp/blob.bin", None, "blob.bin")
    assert would.changed and "would upload" in would.msg
    assert docker("exec", api_id(project), "sh", "-c", "ls /tmp/blob.bin || true", check=False).strip() == ""
    up = box.upload(step(), "api", src, "/tmp/blob.bin", 0o640, "blob.bin")
    assert up.changed and not up.failed, up.msg
    assert up.data["sha256"] == sha and up.data["size"] == len(data) and up.data["dest"] == "/tmp/blob.bin"
    assert in_container(project, "/tmp/blob.bin") == data
    assert docker("exec", api_id(project), "stat", "-c", "%a", "/tmp/blob.bin").strip() == "640"
    assert "ajudaplay" not in docker("exec", api_id(project), "ls", "-a", "/tmp")  # no staging copy left
    again = box.upload(step(), "api", src, "/tmp/blob.bin", 0o640, "blob.bin")
    assert not again.changed and again.data["changed"] is False
    back = tmp_path / "back.bin"
    got = box.fetch(step(), "api", "/tmp/blob.bin", back, str(back))
    assert got.changed and got.data["sha256"] == sha and back.read_bytes() == data
    assert not box.fetch(step(), "api", "/tmp/blob.bin", back, str(back)).changed
    assert [p.name for p in tmp_path.iterdir() if "ajudaplay" in p.name] == []


def test_folder_round_trip_into_a_folder_and_replace(project: Project, box: ComposeTarget, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub" / "deeper").mkdir(parents=True)
    files = {"a.bin": blob(), "sub/b.txt": b"hello\n", "sub/deeper/c.bin": b"\0" * 1000, "sub/with space": b"x"}
    for name, content in files.items():
        (tree / name).write_bytes(content)
    up = box.upload(step(), "api", tree, "/tmp/", None, "tree")
    assert up.changed and up.data["dest"] == "/tmp/tree" and up.data["files"] == 4, up.msg
    for name, content in files.items():
        assert in_container(project, f"/tmp/tree/{name}") == content
    fetched = tmp_path / "out"
    fetched.mkdir()
    got = box.fetch(step(), "api", "/tmp/tree", fetched, str(fetched) + "/")
    assert got.changed and got.data["sha256"] == up.data["sha256"]
    assert {str(p.relative_to(fetched / "tree")): p.read_bytes() for p in (fetched / "tree").rglob("*")
            if p.is_file()} == files
    # a folder is replaced as a whole: a file gone from the source is gone from the copy
    (tree / "sub" / "b.txt").unlink()
    again = box.upload(step(), "api", tree, "/tmp/tree", None, "tree")
    assert again.changed, again.msg
    assert docker("exec", api_id(project), "sh", "-c", "test -e /tmp/tree/sub/b.txt; echo $?").strip() == "1"


def test_fetch_from_a_stopped_container(project: Project, box: ComposeTarget, tmp_path: Path) -> None:
    cid = api_id(project)
    docker("stop", cid)
    got = box.fetch(step(), "api", "/www/version", tmp_path / "version", str(tmp_path / "version"))
    assert (tmp_path / "version").read_text() == "v1\n" and "exited" in got.data["where"]


@LOCAL_ONLY
def test_missing_paths_are_clear_errors(project: Project, box: ComposeTarget, tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="no such file or folder in the container: /nope"):
        box.fetch(step(), "api", "/nope", tmp_path / "x", str(tmp_path / "x"))
    src = tmp_path / "f"
    src.write_text("x")
    with pytest.raises(TargetError, match="no such folder in the container: /no/such"):
        box.upload(step(), "api", src, "/no/such/f", None, "f")
    with pytest.raises(TargetError, match="does not exist on the controller"):
        box.fetch(step(), "api", "/www/version", tmp_path / "missing" / "v", str(tmp_path / "missing" / "v"))


@LOCAL_ONLY
def test_logs_tail_since_grep_and_previous(project: Project, box: ComposeTarget) -> None:
    cid = api_id(project)
    none = box.logs(step(), "api", 100, None, previous=True)
    assert not none.failed and none.data["lines"] == [] and "no exited container" in none.msg
    docker("exec", cid, "sh", "-c", "for i in 1 2 3; do echo line-$i > /proc/1/fd/1; done")
    last = box.logs(step(), "api", 2, None)
    name = project.containers("api")[0]["Name"].lstrip("/")
    assert last.data["lines"] == [f"{name} line-2", f"{name} line-3"]
    assert box.logs(step(), "api", 100, "line-[13]").data["lines"] == [f"{name} line-1", f"{name} line-3"]
    time.sleep(2.5)
    docker("exec", cid, "sh", "-c", "echo fresh-line > /proc/1/fd/1")
    assert box.logs(step(), "api", 100, None, since=2).data["lines"] == [f"{name} fresh-line"]
    docker("exec", cid, "sh", "-c", "echo last-words > /proc/1/fd/1")
    docker("kill", cid)
    docker("wait", cid)  # kill returns once signalled, not once exited
    previous = box.logs(step(), "api", 1, None, previous=True)
    assert previous.data["lines"] == [f"{name} last-words"] and previous.data["exit_code"] == 137


def _top(project: Project) -> str:
    return docker("top", api_id(project))


def test_exec_timeout_and_ctrl_c_stop_the_process_in_the_container(project: Project, box: ComposeTarget) -> None:
    timed = box.exec(step(timeout=2), "api", "sleep 1231 & sleep 1232; wait")
    top = _top(project)  # the processes first: before the fix they ran on
    assert "sleep 1231" not in top and "sleep 1232" not in top, top
    assert timed.failed and timed.data["rc"] == 124 and "stopped in the container" in timed.data["stderr"]
    ctx = step(timeout=120)
    threading.Timer(1.5, ctx.cancel.set).start()
    with pytest.raises(Interrupted) as stopped:
        box.exec(ctx, "api", ["sleep", "1233"])
    assert "sleep 1233" not in _top(project)
    assert "stopped in the container" in str(stopped.value)
    assert box.exec(step(), "api", "echo still-fine").data["stdout"] == "still-fine\n"


@LOCAL_ONLY
def test_exec_stdin_a_named_container_and_every_container(project: Project, box: ComposeTarget) -> None:
    """`pod` and `stdin` as on Kubernetes: a container by name or `all` (results per container), input written."""
    fed = box.exec(step(), "api", ["sh", "-c", "tr a-z A-Z"], stdin="binary\0safe? no: text\n")
    assert fed.data["stdout"] == "BINARY\0SAFE? NO: TEXT\n" and fed.data["pod"] == project.containers("api")[0]["Name"].lstrip("/")
    assert not box.scale(step(timeout=120), "api", 2, None, None).failed
    names = sorted(c["Name"].lstrip("/") for c in project.containers("api"))
    assert len(names) == 2
    every = box.exec(step(), "api", "hostname; echo err >&2", pod="all")
    assert [p["pod"] for p in every.data["pods"]] == names and every.data["rc"] == 0
    hostnames = {n: docker("inspect", "-f", "{{.Config.Hostname}}", n).strip() for n in names}
    assert every.data["stdout_lines"] == [f"{n} {hostnames[n]}" for n in names]
    assert every.data["stderr_lines"] == [f"{n} err" for n in names]
    second = box.exec(step(), "api", ["hostname"], pod=names[1])
    assert second.data["pod"] == names[1] and second.data["stdout"].strip() == hostnames[names[1]]
    failing = box.exec(step(), "api", f"[ $(hostname) != {hostnames[names[1]]} ]", pod="all")
    assert failing.failed and failing.data["rc"] == 1 and names[1] in failing.msg
    with pytest.raises(TargetError, match=r"'nope' is not a container of service 'api'; its containers: "):
        box.exec(step(), "api", "true", pod="nope")
    with pytest.raises(TargetError, match=r"exec\.container: not supported on Compose"):
        box.exec(step(), "api", "true", container="api")


@LOCAL_ONLY
def test_playbook_upload_fetch_logs_register_and_bad_input(project: Project, tmp_path: Path) -> None:
    """Through `ajudaplay run`: the schemas, the actions, the registered data; bad values are clear errors."""
    import json

    payload = tmp_path / "payload.bin"
    payload.write_bytes(blob())
    sha = hashlib.sha256(payload.read_bytes()).hexdigest()
    playbook = tmp_path / "files.yml"
    playbook.write_text(json.dumps([{"name": "files", "hosts": "box", "tasks": [
        {"name": "up", "upload": {"service": "api", "src": "payload.bin", "dest": "/tmp/", "mode": "0600"},
         "register": "up"},
        {"name": "down", "fetch": {"service": "api", "src": "/tmp/payload.bin", "dest": "back.bin"}, "register": "down"},
        {"name": "recent", "logs": {"service": "api", "since": "1h", "tail": 5, "previous": False}, "register": "recent"},
        {"name": "check", "assert": {"that": [
            f"up.sha256 == '{sha}'", "up.dest == '/tmp/payload.bin'",
            "down.sha256 == up.sha256", f"down.size == {payload.stat().st_size}", "recent.count >= 1"]}},
    ]}]))
    done = project.run(str(playbook))
    assert done.rc == 0, done.text
    assert done.results("up")[0]["changed"] is True and done.results("down")[0]["changed"] is True
    assert (tmp_path / "back.bin").read_bytes() == payload.read_bytes()
    check = project.run(str(playbook), "--check")
    assert check.rc == 0, check.text
    [up] = check.results("up")
    assert up["changed"] is False  # same content and mode already there
    for task, message in (({"logs": {"service": "api", "since": "ten minutes"}}, "logs.since: 'ten minutes' is not a duration"),
                          ({"fetch": {"service": "api", "src": "tmp/x", "dest": "x"}}, "must be an absolute path"),
                          ({"upload": {"service": "api", "src": "nope.bin", "dest": "/tmp/"}}, "no such file or folder on the controller")):
        bad = tmp_path / "bad.yml"
        bad.write_text(json.dumps([{"name": "bad", "hosts": "box", "tasks": [{"name": "bad", **task}]}]))
        failed = project.run(str(bad))
        assert failed.rc != 0 and message in failed.text and "Traceback" not in failed.text, failed.text


@LOCAL_ONLY
def test_a_full_disk_on_the_controller_is_a_clear_error_and_leaves_nothing(project: Project, box: ComposeTarget,
                                                                          tmp_path: Path) -> None:
    """fetch into a 64 KiB tmpfs (a real ENOSPC): the step says so and no partial file or staging folder stays."""
    src = tmp_path / "big.bin"
    src.write_bytes(blob())
    assert box.upload(step(), "api", src, "/tmp/big.bin", None, "big.bin").changed
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(small)], check=True)
    try:
        with pytest.raises(TargetError, match="No space left on device.*the controller's disk is full"):
            box.fetch(step(), "api", "/tmp/big.bin", small / "big.bin", str(small / "big.bin"))
        assert list(small.iterdir()) == []
    finally:
        subprocess.run(["umount", "--lazy", str(small)], check=True)  # lazy: a scanner of /tmp may hold it a moment
