"""A real node for the test control plane: kubelet (dockershim on the host's Docker engine) + kube-scheduler.

Pods run as real containers from the locally built busybox images (tests/infra/docker/build-images.sh),
so exec, logs, probes and progress deadlines are the real thing. Only one test node may use the Docker
engine at a time (a kubelet kills every pod container it does not know), hence a machine-wide lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import time
import urllib.error
from pathlib import Path
from typing import IO, Any

from tests.infra.k8s.controlplane import ControlPlane, ControlPlaneError, _die_with_parent, free_port, tail

NODE_NAME = "localhost"  # the API server reaches the kubelet at the node's Hostname address
PAUSE_IMAGE = "ajudaplay-test/pause:v1"
# the Compose tests' images (tests/infra/docker/build-images.sh); `unhealthy` has no /health
API_V1, API_V2, API_V3, API_UNHEALTHY = (f"ajudaplay-test/api:{tag}" for tag in ("v1", "v2", "v3", "unhealthy"))
NGINX_V1 = "ajudaplay-test/nginx:v1"
# The simulator's pods must never land on the real node (their images do not exist): the node carries
# this taint and real pods tolerate it and select the node (see real_pod_placement()).
TAINT_KEY = "ajudaplay.test/real-node"
NODE_ROOT = Path(os.environ.get("AJUDAPLAY_K8S_NODE_ROOT", "/var/lib/ajudaplay-test-kubelet"))
LOCK_FILE = Path("/run/lock/ajudaplay-test-kubelet.lock")
DOCKERSHIM_LABEL = "io.kubernetes.docker.type"  # on every sandbox and container dockershim creates
VAR_LIB_KUBELET = Path("/var/lib/kubelet")
POD_LOG_DIRS = (Path("/var/log/pods"), Path("/var/log/containers"))  # dockershim's fixed log symlinks


def real_pod_placement() -> dict[str, Any]:
    """Pod spec fields that put a pod on the real node (and keep the simulator from taking it)."""
    return {"nodeSelector": {"kubernetes.io/hostname": NODE_NAME},
            "tolerations": [{"key": TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}]}


def health_probe(port: int = 8080) -> dict[str, Any]:
    """Readiness from the image's own wget on /health (the Compose healthcheck's command), run by the kubelet.

    A pod starts not Ready, so the `unhealthy` image never becomes Ready; three misses in a row (not one)
    before a Ready pod turns unready keep a loaded test machine's slow probe from flapping a rollout.
    """
    return {"exec": {"command": ["wget", "-q", "-O-", f"http://127.0.0.1:{port}/health"]},
            "periodSeconds": 1, "timeoutSeconds": 5, "failureThreshold": 3, "successThreshold": 1}


class RealNode:
    """kubelet + kube-scheduler attached to a running ControlPlane; stop() leaves nothing behind."""

    def __init__(self, cp: ControlPlane, *, ready_timeout: float = 120.0, lock_timeout: float = 1800.0) -> None:
        self.cp = cp
        self.name = NODE_NAME
        self.root = NODE_ROOT
        self.ready_timeout = ready_timeout
        self.lock_timeout = lock_timeout
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}
        self.startup_seconds = 0.0
        self._lock: IO[str] | None = None
        self._had_var_lib_kubelet = VAR_LIB_KUBELET.exists()

    def __enter__(self) -> "RealNode":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> "RealNode":
        t0 = time.monotonic()
        missing = [b for b in ("kubelet", "kube-scheduler") if not os.access(self.cp.bin_dir / b, os.X_OK)]
        if missing:
            raise ControlPlaneError(f"node binaries missing: {', '.join(missing)} (looked in {self.cp.bin_dir}); "
                                    "build them with: sudo bash tests/infra/k8s/build-controlplane.sh")
        self._check_pause_image()
        self._take_lock()
        try:
            self._clean()  # what a killed earlier run may have left
            self._start_scheduler()
            self._start_kubelet()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def stop(self) -> None:
        """Stop kubelet and scheduler, remove every pod container, unmount the kubelet's mounts, delete the Node."""
        try:
            for name in ("kubelet", "kube-scheduler"):
                proc = self.procs.pop(name, None)
                if proc is not None and proc.poll() is None:
                    proc.terminate()
                    try:
                        proc.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
            if self._lock is not None:
                self._clean()
                try:
                    self.cp.api("DELETE", f"/api/v1/nodes/{self.name}")
                except (urllib.error.URLError, OSError):
                    pass  # control plane already gone or node never registered
        finally:
            if self._lock is not None:
                self._lock.close()  # releases the flock
                self._lock = None

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise ControlPlaneError(
                    f"{name} exited with code {proc.returncode}; log {self.logs[name]}:\n{tail(self.logs[name])}")

    # internals -----------------------------------------------------------------
    def _check_pause_image(self) -> None:
        proc = subprocess.run(["docker", "image", "inspect", PAUSE_IMAGE], capture_output=True, text=True)
        if proc.returncode != 0:
            raise ControlPlaneError(f"pause image {PAUSE_IMAGE} missing or Docker unreachable ({proc.stderr.strip()}); "
                                    "build it with: bash tests/infra/docker/build-images.sh")

    def _take_lock(self) -> None:
        LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
        fh = open(LOCK_FILE, "a+")
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    fh.close()
                    raise ControlPlaneError(f"another test node holds {LOCK_FILE} (pid in it: "
                                            f"{LOCK_FILE.read_text().strip()}) for more than {self.lock_timeout}s")
                time.sleep(1)
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._lock = fh

    def _clean(self) -> None:
        """Remove every dockershim container (only this node's: the lock) and the kubelet's mounts and files."""
        ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={DOCKERSHIM_LABEL}"],
                             capture_output=True, text=True, check=True).stdout.split()
        if ids:
            subprocess.run(["docker", "rm", "-f", "-v", *ids], capture_output=True, text=True, check=True)
        unmount_under(self.root)
        shutil.rmtree(self.root, ignore_errors=True)
        remove_dangling_pod_logs()
        if not self._had_var_lib_kubelet:  # the device-plugin folder is a fixed path in kubelet 1.20
            shutil.rmtree(VAR_LIB_KUBELET, ignore_errors=True)

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = self.cp.workdir / f"{name}.log"
        self.logs[name] = log
        with open(log, "wb") as fh:
            self.procs[name] = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                                start_new_session=True, preexec_fn=_die_with_parent)

    def _start_scheduler(self) -> None:
        kc = self.cp.kubeconfig
        self._spawn("kube-scheduler", [
            str(self.cp.bin_dir / "kube-scheduler"), f"--kubeconfig={kc}",
            f"--authentication-kubeconfig={kc}", f"--authorization-kubeconfig={kc}",
            "--bind-address=127.0.0.1", f"--secure-port={free_port()}", "--port=0",
            f"--cert-dir={self.cp.workdir}/scheduler-certs", "--leader-elect=false", "--v=1",
        ])

    def _start_kubelet(self) -> None:
        r = self.root
        r.mkdir(parents=True)
        self._spawn("kubelet", [
            str(self.cp.bin_dir / "kubelet"), f"--kubeconfig={self.cp.kubeconfig}",
            "--container-runtime=docker", f"--pod-infra-container-image={PAUSE_IMAGE}",
            f"--root-dir={r}", f"--cert-dir={r}/pki", f"--experimental-dockershim-root-directory={r}/dockershim",
            f"--volume-plugin-dir={r}/volume-plugins",
            # this sandbox: swap may be on, cgroupfs like the engine, no QoS cgroups or allocatable enforcement
            "--fail-swap-on=false", "--cgroup-driver=cgroupfs", "--cgroups-per-qos=false",
            "--enforce-node-allocatable=", "--oom-score-adj=0",
            # the API server prefers the Hostname address, so it reaches the kubelet on loopback
            f"--hostname-override={self.name}", "--address=127.0.0.1", f"--port={free_port()}",
            "--read-only-port=0", "--healthz-bind-address=127.0.0.1", f"--healthz-port={free_port()}",
            f"--register-with-taints={TAINT_KEY}=true:NoSchedule",
            # never touch the host's firewall, never evict or garbage-collect images on a test disk
            "--make-iptables-util-chains=false",
            "--eviction-hard=memory.available<1Mi,nodefs.available<1%,imagefs.available<1%,nodefs.inodesFree<1%",
            "--image-gc-high-threshold=100", "--image-gc-low-threshold=99",
            "--v=1",
        ])

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        last = "not registered"
        while time.monotonic() < deadline:
            self.cp.check_alive()
            self.check_alive()
            try:
                node = self.cp.api("GET", f"/api/v1/nodes/{self.name}")
                conds = {c["type"]: c for c in (node.get("status") or {}).get("conditions") or []}
                ready = conds.get("Ready", {})
                if ready.get("status") == "True":
                    return
                last = f"Ready={ready.get('status')} ({ready.get('message')})"
            except urllib.error.HTTPError as exc:
                if exc.code != 404:
                    raise
            time.sleep(0.5)
        raise ControlPlaneError(f"node {self.name} not Ready after {self.ready_timeout}s: {last}; "
                                f"kubelet log {self.logs['kubelet']}:\n{tail(self.logs['kubelet'])}")


def remove_dangling_pod_logs() -> None:
    """dockershim's log symlinks point into removed containers now: drop them (and emptied pod folders)."""
    for base in POD_LOG_DIRS:
        if not base.is_dir():
            continue
        for link in sorted(base.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if link.is_symlink() and not link.exists():
                link.unlink()
            elif link.is_dir() and not link.is_symlink() and not any(link.iterdir()):
                link.rmdir()


def mounts_under(root: Path) -> list[str]:
    """Mount points at or below root, deepest first (from /proc/self/mountinfo; octal escapes decoded)."""
    prefix = str(root)
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].encode().decode("unicode_escape")
        if point == prefix or point.startswith(prefix + "/"):
            points.append(point)
    return sorted(set(points), key=len, reverse=True)


def unmount_under(root: Path) -> None:
    """Unmount the kubelet's tmpfs volumes and its rshared bind mount of its root, so the folder can go."""
    for _ in range(5):  # a bind mount may be stacked several times
        points = mounts_under(root)
        if not points:
            return
        for point in points:
            subprocess.run(["umount", point], capture_output=True)
    leftover = mounts_under(root)
    for point in leftover:
        subprocess.run(["umount", "-l", point], capture_output=True)
    if mounts_under(root):
        raise ControlPlaneError(f"could not unmount {json.dumps(mounts_under(root))}")
