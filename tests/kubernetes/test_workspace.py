"""ServiceData on Kubernetes, on the real test node: the live workspace (exec, streamed files both ways,
checked sums, a cut stream resumed) and offline (scale to 0, a data pod on the same PersistentVolumeClaim,
always scaled back). kubectl is the independent check: what the pods see, the replicas, the annotation,
the data pod gone; the volume's host folder is a second one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from ajudaplay.errors import Interrupted, TargetError
from ajudaplay.targets.base import data_of
from ajudaplay.targets.kubernetes import podexec, workspace
from ajudaplay.targets.workspace import FileMissing
from tests.kubernetes.conftest import step
from tests.kubernetes.data_fixtures import DATA_DIR, DataService, data_service  # noqa: F401 - a fixture

pytestmark = pytest.mark.kubernetes

MB = 1 << 20


def _deployment(service: DataService) -> Any:
    return service.cluster.get("deployment", service.name)


def _annotation(service: DataService) -> str | None:
    return ((_deployment(service)["metadata"].get("annotations") or {}).get(workspace.RESTORE_REPLICAS))


def _random_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "wb") as fh:
        for _ in range(size // MB):
            chunk = os.urandom(MB)
            digest.update(chunk)
            fh.write(chunk)
    return digest.hexdigest()


def test_live_workspace_runs_and_streams_both_ways(data_service: DataService) -> None:
    data_service.deploy(replicas=1)
    pod = data_service.ready_pod()
    data = os.urandom(700_000) + b"\0\r\n\xff" + bytes(range(256))
    with data_of(data_service.target, "db_check").live_workspace(step(), "api") as ws:
        assert pod in ws.where and "container api" in ws.where
        ran = ws.run(["sh", "-c", 'echo "out $1"; echo err >&2; exit 3', "sh", "a b; $(x)"])
        assert (ran.rc, ran.stdout, ran.stderr) == (3, b"out a b; $(x)\n", b"err\n")
        assert ws.run(["head", "-c", "5"], stdin=b"hello world").stdout == b"hello"
        path = f"{DATA_DIR}/blob file.bin"  # a space: the path is an argument, never a shell word
        assert ws.write_from(io.BytesIO(data), len(data), path) == hashlib.sha256(data).hexdigest()
        back = io.BytesIO()
        assert ws.read_to(path, back) == hashlib.sha256(data).hexdigest()
        assert back.getvalue() == data
        with pytest.raises(FileMissing, match="no such file"):
            ws.read_to(f"{DATA_DIR}/missing.db", io.BytesIO())
        with pytest.raises(TargetError, match="source ended after 100 of 200 bytes"):
            ws.write_from(io.BytesIO(b"x" * 100), 200, f"{DATA_DIR}/short.bin")
    assert data_service.exec("sha256sum", path).split()[0].decode() == hashlib.sha256(data).hexdigest()
    assert data_service.exec("stat", "-c", "%a", path).strip() == b"600"
    listing = data_service.exec("ls", DATA_DIR).decode().splitlines()
    assert "blob file.bin" in listing and "short.bin" not in listing  # a failed write leaves nothing
    assert (data_service.host_dir / "blob file.bin").read_bytes() == data  # the volume is the host folder


def test_50mb_round_trip_keeps_controller_memory_bounded(data_service: DataService, tmp_path: Path) -> None:
    data_service.deploy(replicas=1)
    src, back = tmp_path / "src.bin", tmp_path / "back.bin"
    expected = _random_file(src, 50 * MB)
    with data_service.target.live_workspace(step(timeout=300), "api") as ws:
        tracemalloc.start()
        try:
            with open(src, "rb") as fh:
                assert ws.write_from(fh, 50 * MB, f"{DATA_DIR}/big.bin") == expected
            with open(back, "wb") as fh:
                assert ws.read_to(f"{DATA_DIR}/big.bin", fh) == expected
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 8 * MB, f"peak {peak / MB:.1f} MB for a 50 MB round trip: the file was held, not streamed"
    assert hashlib.sha256(back.read_bytes()).hexdigest() == expected
    assert data_service.exec("sha256sum", f"{DATA_DIR}/big.bin").split()[0].decode() == expected


class _FirstReadCut:
    """podexec.stream as a server that ends the first `cat` after `keep` bytes (kubernetes#60140), its stderr
    (the container's size and sum) lost too when `lose_stderr`."""

    def __init__(self, keep: int, lose_stderr: bool = False) -> None:
        self.keep, self.cut, self.real, self.lose_stderr = keep, 0, podexec.stream, lose_stderr

    def __call__(self, *args: Any, sink: Any = None, **kw: Any) -> podexec.Finished:
        argv = args[3]
        if sink is not None and workspace.READ_SH in argv and not self.cut:
            self.cut += 1
            outer, keep = sink, self.keep

            class Short:
                seen = 0

                def write(self, data: bytes) -> None:
                    room = max(0, keep - Short.seen)
                    Short.seen += len(data)
                    if room:
                        outer.write(data[:room])
            sink = Short()
            done = self.real(*args, sink=sink, **kw)
            return dataclasses.replace(done, stderr=b"") if self.lose_stderr else done
        return self.real(*args, sink=sink, **kw)


def test_a_stream_cut_short_is_resumed_and_checked(data_service: DataService, monkeypatch: pytest.MonkeyPatch) -> None:
    data_service.deploy(replicas=1)
    data = os.urandom(3 * MB + 17)
    logged: list[str] = []
    with data_service.target.live_workspace(step(log=logged.append), "api") as ws:
        ws.write_from(io.BytesIO(data), len(data), f"{DATA_DIR}/cut.bin")
        monkeypatch.setattr(podexec, "stream", _FirstReadCut(MB + 5))
        back = io.BytesIO()
        assert ws.read_to(f"{DATA_DIR}/cut.bin", back) == hashlib.sha256(data).hexdigest()
        assert back.getvalue() == data
        assert any(f"ended at byte {MB + 5} of {len(data)}; resuming" in line for line in logged), logged
        monkeypatch.setattr(podexec, "stream", _FirstReadCut(2 * MB, lose_stderr=True))
        back = io.BytesIO()
        assert ws.read_to(f"{DATA_DIR}/cut.bin", back) == hashlib.sha256(data).hexdigest()
        assert back.getvalue() == data
        assert any(f"ended at byte {2 * MB} of {len(data)}; resuming" in line for line in logged), logged
        monkeypatch.setattr(podexec, "stream", _FirstReadCut(MB))
        monkeypatch.setattr(workspace, "RESUMES", 0)
        with pytest.raises(TargetError, match=f"received {MB} bytes .* the container has {len(data)} bytes"):
            ws.read_to(f"{DATA_DIR}/cut.bin", io.BytesIO())


def test_offline_runs_a_data_pod_on_the_same_volume_and_scales_back(data_service: DataService) -> None:
    data_service.cluster.kubectl("create", "serviceaccount", "data-sa")
    data_service.deploy(replicas=2, serviceAccountName="data-sa", securityContext={"supplementalGroups": [4321]})
    before = data_service.pods()
    with data_service.target.live_workspace(step(), "api") as ws:
        ws.write_from(io.BytesIO(b"before\n"), 7, f"{DATA_DIR}/kept.txt")
    logged: list[str] = []
    with data_service.target.offline(step(timeout=120, log=logged.append), "api") as ws:
        assert _deployment(data_service)["spec"]["replicas"] == 0 and _annotation(data_service) == "2"
        assert data_service.pods() == []  # scaled to 0 and gone
        [pod] = data_service.data_pods()
        assert pod["status"]["phase"] == "Running" and pod["metadata"]["name"] in ws.where
        assert pod["metadata"]["name"].startswith("ajudaplay-data-api-")
        assert "app" not in pod["metadata"]["labels"]  # outside the Deployment's selector
        spec, template = pod["spec"], before[0]["spec"]
        for key in ("volumes", "nodeSelector", "serviceAccountName", "securityContext"):
            assert spec[key] == template[key], key
        assert all(t in spec["tolerations"] for t in template["tolerations"] if t.get("key", "").startswith("ajudaplay"))
        [container] = spec["containers"]
        assert container["image"] == data_service.image and container["volumeMounts"][0]["mountPath"] == DATA_DIR
        assert "readinessProbe" not in container and spec["restartPolicy"] == "Never"
        got = io.BytesIO()
        ws.read_to(f"{DATA_DIR}/kept.txt", got)
        assert got.getvalue() == b"before\n"  # the data survived scaling to 0
        ws.write_from(io.BytesIO(b"offline\n"), 8, f"{DATA_DIR}/written.txt")
        assert ws.run(["mv", f"{DATA_DIR}/written.txt", f"{DATA_DIR}/renamed.txt"]).ok
    assert data_service.data_pods() == []
    deployment = _deployment(data_service)
    assert deployment["spec"]["replicas"] == 2 and deployment["status"].get("readyReplicas") == 2
    assert _annotation(data_service) is None
    assert data_service.exec("cat", f"{DATA_DIR}/renamed.txt") == b"offline\n"
    assert any("scaling to 0" in line for line in logged) and any("scaling back to 2" in line for line in logged)


def test_offline_starts_the_service_again_when_the_work_fails(data_service: DataService) -> None:
    data_service.deploy(replicas=1)
    with pytest.raises(RuntimeError, match="boom"):
        with data_service.target.offline(step(timeout=120), "api"):
            raise RuntimeError("boom")
    deployment = _deployment(data_service)
    assert deployment["spec"]["replicas"] == 1 and deployment["status"].get("readyReplicas") == 1
    assert _annotation(data_service) is None and data_service.data_pods() == []


def test_offline_interrupted_starts_again_without_waiting(data_service: DataService) -> None:
    data_service.deploy(replicas=1)
    ctx = step(timeout=120)
    with pytest.raises(Interrupted):
        with data_service.target.offline(ctx, "api"):
            ctx.cancel.set()
            raise Interrupted("Ctrl-C")
    assert _deployment(data_service)["spec"]["replicas"] == 1 and _annotation(data_service) is None
    assert data_service.data_pods() == []
    data_service.cluster.kubectl("rollout", "status", "deployment/api", "--timeout=120s")


def test_offline_returns_to_the_count_an_interrupted_run_left(data_service: DataService) -> None:
    data_service.deploy(replicas=1)
    data_service.cluster.kubectl("annotate", "deployment/api", f"{workspace.RESTORE_REPLICAS}=2")
    data_service.cluster.kubectl("scale", "deployment/api", "--replicas=0")
    left = data_service.manifest()["spec"]["template"]["spec"]
    left["containers"][0].update(command=["sh", "-c", workspace.SLEEP], readinessProbe=None)
    data_service.cluster.apply({"apiVersion": "v1", "kind": "Pod", "spec": dict(left, restartPolicy="Never"),
                                "metadata": {"name": "ajudaplay-data-api-0ld0ld",
                                             "labels": {workspace.DATA_POD_LABEL: "true", workspace.SERVICE_LABEL: "api"}}})
    logged: list[str] = []
    with data_service.target.offline(step(timeout=120, log=logged.append), "api"):
        assert _annotation(data_service) == "2"
    deployment = _deployment(data_service)
    assert deployment["spec"]["replicas"] == 2 and deployment["status"].get("readyReplicas") == 2
    assert any("left by an interrupted run: it will be started again at 2" in line for line in logged), logged
    assert any("removing data pod ajudaplay-data-api-0ld0ld" in line for line in logged), logged
    assert data_service.data_pods() == []


def test_offline_refuses_check_mode(data_service: DataService) -> None:
    data_service.deploy(replicas=1)
    with pytest.raises(TargetError, match="check mode"):
        with data_service.target.offline(step(check=True), "api"):
            pass
    assert _deployment(data_service)["spec"]["replicas"] == 1

