"""fetch/upload, logs (tail, since, grep, previous) and a stoppable exec on real pods (the test kubelet).

kubectl is the independent client: `kubectl exec cat` reads what upload wrote, `kubectl logs --previous`
what previous logs must say, `kubectl exec ps` that a stopped command is gone.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ajudaplay.errors import Interrupted, TargetError
from ajudaplay.targets.kubernetes import KubernetesTarget
from tests.infra.k8s.node import API_V1
from tests.kubernetes.conftest import NodeCluster, real_deployment_manifest, step

pytestmark = pytest.mark.kubernetes


def _pod(cluster: NodeCluster) -> str:
    pods = cluster.get("pods", "-l", "app=api")["items"]
    return str(sorted(p["metadata"]["name"] for p in pods if not p["metadata"].get("deletionTimestamp"))[0])


def _cat(cluster: NodeCluster, pod: str, path: str) -> bytes:
    return subprocess.run(["kubectl", "--kubeconfig", str(cluster.kubeconfig), "-n", cluster.namespace, "exec", pod,
                           "--", "cat", path], capture_output=True, check=True, timeout=60).stdout


def _blob() -> bytes:
    return os.urandom(300_000) + b"\0\0\r\n\xff" + bytes(range(256))


def test_binary_file_and_folder_round_trip(node_cluster: NodeCluster, node_target: KubernetesTarget,
                                           tmp_path: Path) -> None:
    node_cluster.deployment("api", API_V1, replicas=1)
    pod = _pod(node_cluster)
    data = _blob()
    src = tmp_path / "blob.bin"
    src.write_bytes(data)
    would = node_target.upload(step(check=True), "api", src, "/tmp/blob.bin", None, "blob.bin")
    assert would.changed and "would upload" in would.msg
    assert node_cluster.kubectl("exec", pod, "--", "ls", "/tmp").stdout.strip() == ""
    up = node_target.upload(step(), "api", src, "/tmp/blob.bin", 0o600, "blob.bin")
    assert up.changed and up.data["sha256"] == hashlib.sha256(data).hexdigest() and up.data["pod"] == pod, up.msg
    assert _cat(node_cluster, pod, "/tmp/blob.bin") == data
    assert node_cluster.kubectl("exec", pod, "--", "stat", "-c", "%a", "/tmp/blob.bin").stdout.strip() == "600"
    assert node_cluster.kubectl("exec", pod, "--", "ls", "-a", "/tmp").stdout.split() == [".", "..", "blob.bin"]
    assert not node_target.upload(step(), "api", src, "/tmp/blob.bin", 0o600, "blob.bin").changed
    back = tmp_path / "back.bin"
    got = node_target.fetch(step(), "api", "/tmp/blob.bin", back, str(back))
    assert got.changed and back.read_bytes() == data and got.data["sha256"] == up.data["sha256"]
    assert not node_target.fetch(step(), "api", "/tmp/blob.bin", back, str(back)).data["changed"]

    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    files = {"a.bin": _blob(), "sub/b.txt": b"hello\n", "sub/z": b"\0" * 4096}
    for name, content in files.items():
        (tree / name).write_bytes(content)
    (tree / "link").symlink_to("sub/b.txt")  # a link travels as a link
    folder = node_target.upload(step(), "api", tree, "/tmp/", None, "tree")
    assert folder.changed and folder.data["dest"] == "/tmp/tree" and folder.data["files"] == 4, folder.msg
    assert all(_cat(node_cluster, pod, f"/tmp/tree/{n}") == c for n, c in files.items())
    out = tmp_path / "copy"
    fetched = node_target.fetch(step(), "api", "/tmp/tree", out, str(out))
    assert fetched.data["sha256"] == folder.data["sha256"]
    assert {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file() and not p.is_symlink()} == files
    assert os.readlink(out / "link") == "sub/b.txt"
    assert node_cluster.kubectl("exec", pod, "--", "readlink", "/tmp/tree/link").stdout.strip() == "sub/b.txt"
    assert [p.name for p in tmp_path.iterdir() if "ajudaplay" in p.name] == []


def test_missing_paths_are_clear_errors(node_cluster: NodeCluster, node_target: KubernetesTarget,
                                        tmp_path: Path) -> None:
    node_cluster.deployment("api", API_V1, replicas=1)
    with pytest.raises(TargetError, match="no such file or folder in the container: /nope"):
        node_target.fetch(step(), "api", "/nope", tmp_path / "x", str(tmp_path / "x"))
    src = tmp_path / "f"
    src.write_text("x")
    with pytest.raises(TargetError, match="no such folder in the container: /no/such"):
        node_target.upload(step(), "api", src, "/no/such/f", None, "f")


def _evil(members: list[tuple[str, Any]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, link in members:
            info = tarfile.TarInfo(name)
            if name == "evil":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif link:
                info.type, info.linkname = tarfile.SYMTYPE, link
                tar.addfile(info)
            else:
                info.size = 6
                tar.addfile(info, io.BytesIO(b"pwned\n"))
    return buffer.getvalue()


@pytest.mark.parametrize("members,refusal", [
    ([("evil", None), ("evil/../../escaped", None)], "member 'evil/../../escaped' is not under 'evil'"),
    ([("evil", None), ("evil/passwd", "/etc/passwd")], "link 'evil/passwd' points outside"),
])
def test_a_hostile_archive_is_refused(node_cluster: NodeCluster, node_target: KubernetesTarget, tmp_path: Path,
                                      members: list[tuple[str, Any]], refusal: str) -> None:
    """The container's `sh` (busybox sh runs its own tar applet, whatever PATH says) is replaced by a script
    that sends an archive with members outside what was asked for."""
    node_cluster.deployment("api", API_V1, replicas=1)
    pod = _pod(node_cluster)
    archive = tmp_path / "evil.tar"
    archive.write_bytes(_evil(members))
    assert node_target.upload(step(), "api", archive, "/tmp/evil.tar", None, "evil.tar").changed
    node_cluster.kubectl("exec", pod, "--", "sh", "-c",
                         "mkdir /tmp/evil && rm /bin/sh && printf '#!/bin/busybox sh\\ncat /tmp/evil.tar\\n' > /bin/sh "
                         "&& chmod 755 /bin/sh")
    (tmp_path / "in").mkdir()
    with pytest.raises(TargetError, match=refusal):
        node_target.fetch(step(), "api", "/tmp/evil", tmp_path / "in" / "evil", str(tmp_path / "in" / "evil"))
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["evil.tar", "in"]


def _wait_restarted(cluster: NodeCluster, name: str, timeout: float = 90) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pods = cluster.get("pods", "-l", f"app={name}")["items"]
        if pods and all(sum(int(c.get("restartCount") or 0) for c in p["status"].get("containerStatuses") or []) >= 1
                        for p in pods):
            return sorted(p["metadata"]["name"] for p in pods)
        time.sleep(0.5)
    raise AssertionError(f"the pods of {name} never restarted")


def test_previous_logs_of_a_crashing_container(node_cluster: NodeCluster, node_target: KubernetesTarget) -> None:
    """A container that prints its run number and exits 3: the previous run's lines, as kubectl logs --previous."""
    manifest = real_deployment_manifest("api", API_V1, replicas=1, deadline=600)
    pod_spec = manifest["spec"]["template"]["spec"]
    pod_spec["volumes"] = [{"name": "runs", "emptyDir": {}}]  # survives the container's restarts
    container = pod_spec["containers"][0]
    container["volumeMounts"] = [{"name": "runs", "mountPath": "/runs"}]
    container["command"] = ["sh", "-c", "n=$(( $(cat /runs/n 2>/dev/null || echo 0) + 1 )); echo $n > /runs/n; "
                            "echo run-$n; echo second-line; exit 3"]
    container.pop("readinessProbe")
    node_cluster.apply(manifest)
    [pod] = _wait_restarted(node_cluster, "api")
    for _ in range(60):  # right after a restart the kubelet answers "unable to retrieve container logs" (kubectl too)
        theirs = node_cluster.kubectl("logs", "--previous", pod, check=False).stdout.splitlines()
        ours = node_target.logs(step(), "api", 100, None, previous=True).data
        if theirs[:1] and theirs[0].startswith("run-") and ours["pods"][pod] == theirs:
            break
        time.sleep(0.5)
    assert ours["pods"][pod] == theirs and theirs[1] == "second-line", (ours, theirs)
    assert ours["lines"] == [f"{pod} {line}" for line in theirs] and ours["previous"] is True
    assert node_target.logs(step(), "api", 1, "second", previous=True).data["lines"] == [f"{pod} second-line"]


def test_logs_tail_since_grep_on_every_pod(node_cluster: NodeCluster, node_target: KubernetesTarget) -> None:
    node_cluster.deployment("api", API_V1, replicas=2)
    pods = sorted(p["metadata"]["name"] for p in node_cluster.get("pods", "-l", "app=api")["items"])
    for pod in pods:
        node_cluster.kubectl("exec", pod, "--", "sh", "-c", f"for i in 1 2 3; do echo {pod}-line-$i > /proc/1/fd/1; done")
    tail = node_target.logs(step(), "api", 2, None)
    assert tail.data["lines"] == [f"{p} {p}-line-{i}" for p in pods for i in (2, 3)]
    grep = node_target.logs(step(), "api", 100, "line-1$")
    assert grep.data["lines"] == [f"{p} {p}-line-1" for p in pods]
    none = node_target.logs(step(), "api", 100, None, previous=True)
    assert none.data["lines"] == [] and len(none.warnings) == 2 and "previous terminated container" in none.warnings[0]
    time.sleep(3)
    node_cluster.kubectl("exec", pods[0], "--", "sh", "-c", "echo fresh > /proc/1/fd/1")
    assert node_target.logs(step(), "api", 100, None, since=2).data["lines"] == [f"{pods[0]} fresh"]


def _ps(cluster: NodeCluster, pod: str) -> str:
    return cluster.kubectl("exec", pod, "--", "ps", "-o", "args").stdout


def test_timeout_and_ctrl_c_stop_the_command_in_the_pod(node_cluster: NodeCluster,
                                                        node_target: KubernetesTarget) -> None:
    node_cluster.deployment("api", API_V1, replicas=1)
    pod = _pod(node_cluster)
    with pytest.raises(TargetError, match="still running after 2s") as timed:
        node_target.exec(step(timeout=2), "api", "sleep 1231 & sleep 1232; wait")
    ps = _ps(node_cluster, pod)  # the processes first: before the fix they ran on
    assert "sleep 1231" not in ps and "sleep 1232" not in ps, ps
    assert "stopped in the container" in str(timed.value)
    ctx = step(timeout=120)
    threading.Timer(1.5, ctx.cancel.set).start()
    with pytest.raises(Interrupted) as stopped:
        node_target.exec(ctx, "api", ["sleep", "1233"])
    assert "sleep 1233" not in _ps(node_cluster, pod)
    assert "stopped in the container" in str(stopped.value)
    ok = node_target.exec(step(), "api", ["sh", "-c", "echo $0 $1", "a", "b"])
    assert ok.data["stdout"] == "a b\n" and ok.data["cmd"] == "sh -c 'echo $0 $1' a b" and not ok.warnings


NO_SHELL_IMAGE = "ajudaplay-test/nosh:v1"


def _build_no_shell_image() -> None:
    """busybox with only `sleep` and `cat` linked: an image without `sh`, built locally (docker import)."""
    import shutil
    import tempfile

    if subprocess.run(["docker", "image", "inspect", NO_SHELL_IMAGE], capture_output=True).returncode == 0:
        return
    root = Path(tempfile.mkdtemp())
    try:
        (root / "bin").mkdir()
        shutil.copy(os.environ.get("BUSYBOX", "/bin/busybox"), root / "bin" / "busybox")
        for applet in ("sleep", "cat"):
            (root / "bin" / applet).symlink_to("busybox")
        archive = subprocess.run(["tar", "-C", str(root), "--numeric-owner", "--owner=0", "--group=0", "-c", "."],
                                 capture_output=True, check=True).stdout
        subprocess.run(["docker", "import", "--change", 'CMD ["/bin/sleep", "3600"]', "-", NO_SHELL_IMAGE],
                       input=archive, capture_output=True, check=True, timeout=120)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_an_image_without_sh_runs_the_command_unwrapped_with_a_warning(node_cluster: NodeCluster,
                                                                       node_target: KubernetesTarget) -> None:
    _build_no_shell_image()
    manifest = real_deployment_manifest("api", NO_SHELL_IMAGE, replicas=1, deadline=600)
    manifest["spec"]["template"]["spec"]["containers"][0].pop("readinessProbe")
    node_cluster.apply(manifest)
    node_cluster.kubectl("rollout", "status", "deployment/api", "--timeout=90s")
    result = node_target.exec(step(), "api", ["cat", "/proc/self/cmdline"])
    assert not result.failed and result.data["stdout"] == "cat\0/proc/self/cmdline\0", result.msg
    assert [w for w in result.warnings if "has no `sh`" in w and "leave the command running" in w] == result.warnings != []


def test_upload_fetch_logs_through_a_playbook(node_cluster: NodeCluster, tmp_path: Path) -> None:
    """Through `ajudaplay run` on real pods: schemas, actions, registered data, check mode copies nothing."""
    import yaml

    from tests.kubernetes.test_playbooks_e2e import ajudaplay, write_inventory

    node_cluster.deployment("api", API_V1, replicas=1)
    pod = _pod(node_cluster)
    data = _blob()
    (tmp_path / "payload.bin").write_bytes(data)
    inv = write_inventory(tmp_path / "inv.yml", node_cluster.kubeconfig, node_cluster.namespace)
    playbook = tmp_path / "files.yml"
    playbook.write_text(yaml.safe_dump([{"name": "files", "hosts": "all", "tasks": [
        {"name": "up", "upload": {"service": "api", "src": "payload.bin", "dest": "/tmp/"}, "register": "up"},
        {"name": "down", "fetch": {"service": "api", "src": "/tmp/payload.bin", "dest": "got/"}, "register": "down"},
        {"name": "recent", "logs": {"service": "api", "since": "10m", "grep": "listening"}, "register": "recent"},
        {"name": "check", "assert": {"that": [
            f"up.sha256 == '{hashlib.sha256(data).hexdigest()}'", "down.sha256 == up.sha256",
            f"recent.lines == ['{pod} api v1 listening on :8080']"]}}]}]))
    (tmp_path / "got").mkdir()
    check = ajudaplay("run", str(playbook), "-i", str(inv), "--no-journal", "--check", cwd=tmp_path)
    assert node_cluster.kubectl("exec", pod, "--", "ls", "/tmp").stdout.strip() == "", check.stdout + check.stderr
    assert not (tmp_path / "got" / "payload.bin").exists()
    proc = ajudaplay("run", str(playbook), "-i", str(inv), "--no-journal", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "got" / "payload.bin").read_bytes() == data == _cat(node_cluster, pod, "/tmp/payload.bin")
