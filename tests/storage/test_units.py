"""disk and cleanup on the fake target, whose exec runs the action's argv on this machine.

The fake's own exec runs nothing, so `LocalExec` runs the argv here, under tmp_path, with either
GNU coreutils/findutils or busybox applets on PATH (the two kinds of image the action must work
with): the real find/stat/readlink/rm scripts of ajudaplay/actions/storage.py, against real files,
symlinks and a directory swapped for a symlink between listing and removal. The Compose and
Kubernetes e2e tests run the same scripts in containers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from ajudaplay.actions.base import ActionContext
from ajudaplay.actions.storage import (
    mount_point, older_than_minutes, parse_df, parse_du, parse_listing, plan_removal, run_cleanup, run_disk, safe_path,
)
from ajudaplay.errors import Mark, TargetError
from ajudaplay.inventory.model import TargetSpec
from ajudaplay.outcomes import ExecOutcome, to_result
from ajudaplay.targets.fake import FakeTarget
from tests.kubernetes.conftest import step

DAY = 86400
APPLETS = ("sh", "find", "stat", "readlink", "rm", "dirname", "head", "df", "du", "touch", "printf", "echo")


class LocalExec(FakeTarget):
    """The fake target, but exec runs the argv here with PATH = `path`; `before_exec` may change the files first."""

    path: str
    before_exec: Callable[[list[str]], None] = staticmethod(lambda argv: None)
    argvs: list[list[str]]

    def exec(self, ctx: Any, service: str, command: Any, *, container: str | None = None, pod: str | None = None,
             stdin: str | None = None) -> Any:
        argv = list(command)
        self.argvs.append(argv)
        self.before_exec(argv)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=ctx.timeout, env={"PATH": self.path})
        return to_result(ExecOutcome(rc=done.returncode, stdout=done.stdout, stderr=done.stderr,
                                     stdout_lines=done.stdout.splitlines(), stderr_lines=done.stderr.splitlines(),
                                     cmd=" ".join(argv), failed=done.returncode != 0))


def busybox_bin(folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    real = shutil.which("busybox")
    assert real, "busybox not on this machine (Debian busybox-static)"
    for applet in APPLETS:
        (folder / applet).symlink_to(real)
    return str(folder)


@pytest.fixture(params=["gnu", "busybox"])
def tools(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """PATH for the 'image': GNU tools, or busybox applets only."""
    return "/usr/bin:/bin" if request.param == "gnu" else busybox_bin(tmp_path / "bin")


def context(tools: str | None = None, check: bool = False, diff: bool = False,
            services: dict[str, Any] | None = None) -> ActionContext:
    spec = TargetSpec(name="t", kind="fake", mark=Mark("inventory.yml", 1, 1), connection={},
                      services=services or {"api": {}})
    target: FakeTarget
    if tools is None:
        target = FakeTarget(spec)
    else:
        local = LocalExec(spec)
        local.path, local.argvs = tools, []
        target = local
    return ActionContext(target=target, step=step(check=check, diff=diff), vars={}, render=lambda v: v)


def old(path: Path, days: float, content: bytes = b"x" * 100) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    then = time.time() - days * DAY
    os.utime(path, (then, then))
    return path


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    """(root, outside): old and new logs, a symlink to an old file outside, a symlinked folder, a .txt."""
    base = tmp_path.resolve()
    root, outside = base / "logs", base / "outside"
    for name, days in (("a.log", 10), ("b.log", 9), ("c.log", 8), ("sub/d.log", 10), ("new.log", 0), ("old.txt", 10)):
        old(root / name, days)
    old(outside / "secret.log", 30)
    old(outside / "deep" / "e.log", 30)
    (root / "link.log").symlink_to(outside / "secret.log")
    (root / "linkdir").symlink_to(outside)
    then = time.time() - 20 * DAY
    for link in ("link.log", "linkdir"):
        os.utime(root / link, (then, then), follow_symlinks=False)
    return root, outside


def cleanup(ctx: ActionContext, root: Path, **extra: Any) -> dict[str, Any]:
    result = run_cleanup(ctx, {"service": "api", "path": str(root), "older_than": "7d", "pattern": "*.log", **extra})
    assert not result.failed, result.msg
    return result.data


# pure parts -------------------------------------------------------------------------------------
def test_df_gnu_busybox_wrapped_and_unknown_percent() -> None:
    gnu = "Filesystem     1024-blocks     Used Available Capacity Mounted on\n/dev/vda1        1000000   250000    750000      25% /app/data\n"
    assert parse_df(gnu) == {"filesystem": "/dev/vda1", "size_kb": 1000000, "used_kb": 250000, "available_kb": 750000,
                             "percent": 25.0, "mount": "/app/data"}
    busybox = "Filesystem           1024-blocks    Used Available Capacity Mounted on\noverlay               4096      1024      3072  25% /\n"
    assert parse_df(busybox)["mount"] == "/"  # type: ignore[index]
    wrapped = "Filesystem 1024-blocks Used Available Capacity Mounted on\nserver.example:/exports/very/long/name\n  200 50 150 25% /mnt/nfs share\n"
    assert parse_df(wrapped) == {"filesystem": "server.example:/exports/very/long/name", "size_kb": 200, "used_kb": 50,
                                 "available_kb": 150, "percent": 25.0, "mount": "/mnt/nfs share"}
    assert parse_df("Filesystem 1024-blocks Used Available Capacity Mounted on\nx 100 30 10 - /d\n")["percent"] == 75.0  # type: ignore[index]
    assert parse_df("df: /nope: No such file or directory\n") is None and parse_df("") is None
    mounts = "overlay / overlay rw 0 0\n/dev/vda /dev/termination-log ext4 rw 0 0\n/dev/vda /app/data ext4 rw 0 0\n" \
             "/dev/vdb /srv/my\\040files ext4 rw 0 0\n"
    assert (mount_point(mounts, "/app/data/logs"), mount_point(mounts, "/app/database"), mount_point(mounts, "/app/data")) == \
        ("/app/data", "/", "/app/data")
    assert mount_point(mounts, "/srv/my files/x") == "/srv/my files" and mount_point("", "/x") is None
    assert parse_du("du: cannot read 'x'\n1234\t/app/data\n") == 1234 and parse_du("nothing") is None


def test_path_duration_and_pattern_refusals() -> None:
    assert safe_path("cleanup", "/app/logs//") == "/app/logs"
    for bad, said in (("/", "'/' is refused"), ("//", "'/' is refused"), ("logs", "absolute"), ("/app/../etc", "'..'"),
                      ("/app/./logs", "'..' or '.'"), ("", "required"), (None, "required")):
        with pytest.raises(TargetError, match=said):
            safe_path("cleanup", bad)
    assert (older_than_minutes("7d"), older_than_minutes("12h"), older_than_minutes("1d12h"), older_than_minutes(None)) == \
        (10080, 720, 2160, None)
    for bad in ("7", "7x", "30s", "-1d", "d"):
        with pytest.raises(TargetError, match="older_than"):
            older_than_minutes(bad)
    with pytest.raises(TargetError, match="without '/'"):
        run_cleanup(context(), {"service": "api", "path": "/app/logs", "pattern": "../*.log"})


def test_refusals_reach_no_container() -> None:
    ctx = context()
    for args in ({"path": "/"}, {"path": "app"}, {"path": "/a/.."}, {"path": "/a", "keep_last": "x"},
                 {"path": "/a", "command": True}, {"path": "/a", "older_than": "soon"}):
        with pytest.raises(TargetError):
            run_cleanup(ctx, {"service": "api", **args})
    with pytest.raises(TargetError, match="no cleanup_command for api"):
        run_cleanup(ctx, {"service": "api"})
    assert isinstance(ctx.target, FakeTarget) and "exec" not in ctx.target.methods()


def test_listing_parse_and_keep_last() -> None:
    files, skipped, refusal = parse_listing("file\t10\t5\t/r/a\nlink\t0\t0\t/r/l\nodd\t0\t0\tname\nfile\t20\t7\t/r/tab\there\n@@ajudaplay-done 0\n")
    assert refusal is None and [f["path"] for f in files] == ["/r/a", "/r/tab\there"]
    assert [s["path"] for s in skipped] == ["/r/l", "name"]
    remove, kept = plan_removal(files, 1)
    assert [f["path"] for f in kept] == ["/r/tab\there"] and [f["path"] for f in remove] == ["/r/a"]
    assert parse_listing("@@ajudaplay-notreal /elsewhere\n")[2] == "is not its own real path (it resolves to '/elsewhere'): give the real folder"


# the real scripts, GNU and busybox --------------------------------------------------------------
def test_check_mode_lists_and_removes_nothing(tools: str, tree: tuple[Path, Path]) -> None:
    root, outside = tree
    before = sorted(str(p) for p in root.parent.rglob("*"))
    ctx = context(tools, check=True, diff=True)
    data = cleanup(ctx, root, keep_last=1)
    assert sorted(data["removed"]) == [str(root / "a.log"), str(root / "b.log"), str(root / "sub/d.log")]
    assert data["kept"] == [str(root / "c.log")] and data["freed_bytes"] == 300 and data["check"] is True
    assert data["skipped_files"] == [{"path": str(root / "link.log"), "reason": "symlink: never followed, never removed"}]
    assert sorted(str(p) for p in root.parent.rglob("*")) == before
    assert isinstance(ctx.target, LocalExec) and len(ctx.target.argvs) == 1  # the listing only


def test_cleanup_removes_old_regular_files_only_under_the_path(tools: str, tree: tuple[Path, Path]) -> None:
    root, outside = tree
    data = cleanup(context(tools), root)
    assert sorted(data["removed"]) == sorted(str(root / n) for n in ("a.log", "b.log", "c.log", "sub/d.log"))
    assert data["freed_bytes"] == 400 and data["kept"] == []
    assert sorted(p.name for p in root.rglob("*")) == ["link.log", "linkdir", "new.log", "old.txt", "sub"]
    assert (outside / "secret.log").read_bytes() == b"x" * 100 and (outside / "deep/e.log").exists()


def test_a_folder_swapped_for_a_symlink_after_the_listing_is_not_followed(tools: str, tree: tuple[Path, Path]) -> None:
    root, outside = tree
    ctx = context(tools)
    target = ctx.target
    assert isinstance(target, LocalExec)
    bait = old(outside / "sub" / "d.log", 30)

    def swap(argv: list[str]) -> None:
        if len(target.argvs) == 2:  # the removal: sub is now a symlink out
            shutil.rmtree(root / "sub")
            (root / "sub").symlink_to(outside / "sub")

    target.before_exec = swap
    data = cleanup(ctx, root)
    assert str(root / "sub/d.log") not in data["removed"] and bait.exists()
    assert {"path": str(root / "sub/d.log"), "reason": "real path is outside the path"} in data["skipped_files"]


def test_a_symlinked_path_and_a_missing_folder_are_refused(tools: str, tree: tuple[Path, Path]) -> None:
    root, outside = tree
    (root.parent / "alias").symlink_to(root)
    with pytest.raises(TargetError, match="not its own real path"):
        cleanup(context(tools), root.parent / "alias")
    with pytest.raises(TargetError, match="is not a folder"):
        cleanup(context(tools), root.parent / "nothing-here")
    assert (root / "a.log").exists()


def test_pattern_is_one_word_and_odd_names_are_data(tools: str, tree: tuple[Path, Path]) -> None:
    root, _ = tree
    old(root / "$(touch pwned).log", 10)
    old(root / "line\nbreak.log", 10)
    data = cleanup(context(tools), root, pattern="$(touch pwned)*")
    assert data["removed"] == [str(root / "$(touch pwned).log")]
    assert not (root / "pwned").exists() and not Path("pwned").exists() and (root / "line\nbreak.log").exists()
    data = cleanup(context(tools), root, pattern="line*")
    assert data["removed"] == [] and data["skipped_files"][0]["reason"] == "name with a newline: not removed"


def test_disk_reads_df_and_du(tools: str, tree: tuple[Path, Path]) -> None:
    root, _ = tree
    result = run_disk(context(tools, check=True), {"service": "api", "path": str(root)})
    fs = os.statvfs(root)
    assert result.data["size_kb"] == fs.f_blocks * fs.f_frsize // 1024 and 0 <= result.data["percent"] <= 100
    assert result.data["path_kb"] >= 1 and result.changed is False
    assert result.data["volumes"] is None and "not known on a fake target" in result.warnings[0]
    with pytest.raises(TargetError, match="could not read the filesystem"):
        run_disk(context(tools), {"service": "api", "path": str(root / "missing")})


def test_cleanup_command_from_the_inventory(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    services = {"api": {"cleanup_command": f"touch {marker} && echo cleaned"}}
    dry = run_cleanup(context("/usr/bin:/bin", check=True, services=services), {"service": "api", "command": True})
    assert dry.changed and dry.data["command"] == f"touch {marker} && echo cleaned" and not marker.exists()
    done = run_cleanup(context("/usr/bin:/bin", services=services), {"service": "api"})
    assert done.data["stdout_lines"] == ["cleaned"] and done.data["rc"] == 0 and marker.exists()
    failing = {"api": {"cleanup_command": "echo nope >&2; exit 3"}}
    bad = run_cleanup(context("/usr/bin:/bin", services=failing), {"service": "api", "command": "yes"})
    assert bad.failed and "exited 3: nope" in bad.msg


def test_many_files_are_removed_in_batches_and_the_diff_stays_short(tmp_path: Path) -> None:
    root = tmp_path.resolve() / "many"
    for n in range(230):
        old(root / f"f{n:03}.log", 10, b"y")
    ctx = context("/usr/bin:/bin")
    result = run_cleanup(ctx, {"service": "api", "path": str(root), "older_than": "1d"})
    assert len(result.data["removed"]) == 230 and result.data["freed_bytes"] == 230 and not any(root.iterdir())
    assert len(result.changes) == 51 and result.changes[-1].what == f"api 180 more file(s) under {root}"
    assert isinstance(ctx.target, LocalExec) and len(ctx.target.argvs) == 3  # the listing, then 200 + 30


def test_compose_mounts_from_docker_inspect() -> None:
    from ajudaplay.targets.compose.storage import parse_mounts

    text = ('[{"Type":"volume","Name":"p_data","Source":"/var/lib/docker/volumes/p_data/_data","Destination":"/app/data",'
            '"Driver":"local","RW":true},{"Type":"bind","Source":"/srv/conf","Destination":"/etc/app","RW":false},'
            '{"Type":"tmpfs","Destination":"/run"}]\n')
    found = parse_mounts(text, "p_api_1")
    assert [(m["mount_path"], m["kind"], m["name"], m["read_only"]) for m in found] == [
        ("/app/data", "volume", "p_data", False), ("/etc/app", "bind", None, True), ("/run", "tmpfs", None, False)]
    assert found[0]["source"] == "/var/lib/docker/volumes/p_data/_data" and found[0]["container"] == "p_api_1"
    assert parse_mounts("not json", "c") == [] and parse_mounts("null", "c") == []


def test_an_image_without_readlink_is_refused_before_anything_is_removed(tmp_path: Path, tree: tuple[Path, Path]) -> None:
    root, _ = tree
    tools = tmp_path / "bin"  # GNU tools, one by one (busybox sh finds its own applets whatever PATH says)
    tools.mkdir()
    for tool in ("sh", "find", "stat", "rm", "dirname", "head"):
        (tools / tool).symlink_to(str(shutil.which(tool)))
    with pytest.raises(TargetError, match="the image has no 'readlink'"):
        cleanup(context(str(tools)), root)
    assert (root / "a.log").exists()
