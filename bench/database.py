"""Benchmark: back up and restore a 200 MB SQLite database with ajudaplay vs the same by hand, on both modes.

The service is the SQLite test image (ajudaplay-test/dbapi:v1, writing a row every 100 ms all along),
its database grown to --size-mb with a payload table. ajudaplay runs the shipped playbooks
(backup.yml, restore.yml --yes); "by hand" is what an operator types without it:

- backup, Compose:  docker exec C sqlite3 DB "VACUUM INTO '/app/data/hand.db'"; docker cp C:/app/data/hand.db .; rm
- backup, Kubernetes: kubectl exec POD -- sqlite3 DB "VACUUM INTO ..."; kubectl cp POD:/app/data/hand.db .; rm

  The runbook's `sqlite3 DB ".backup FILE"` is tried once per size with a time limit (--dot-backup-limit):
  its backup_step loop starts over whenever another connection writes, and the service writes every
  100 ms, so on a large database it does not finish; VACUUM INTO (one read transaction) is then the
  hand-made baseline, the same snapshot ajudaplay takes.
- restore, Compose: docker stop C; a one-off container on its volumes removes -wal/-shm; docker cp hand.db
  C:DB; docker start C; wait healthy
- restore, Kubernetes: scale to 0, wait for the pods to go; a pod on the claim; kubectl cp hand.db into it;
  mv over DB (rm -wal/-shm); delete the pod; scale to 1; rollout status

ajudaplay does more (integrity_check before keeping and before and after restoring, gzip, a manifest,
keeping the replaced file): the ratios show what that costs. Peak memory is the largest resident set
of any one controller process (ajudaplay's, or each docker/kubectl CLI), from wait4(2); the database
is also measured at a quarter of the size, to show that ajudaplay's memory does not grow with it.

    .venv/bin/python bench/database.py [--size-mb 200] [--modes compose,kubernetes] [--repeat 1]

Needs root, Docker and the test images (tests/infra/docker/setup.sh); Kubernetes also the control-plane
binaries (tests/infra/k8s/build-controlplane.sh) and kubectl. Prints a table; nothing fails on a slow machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # not bench/: the tests' modules import `kubernetes`

from tests.database.e2e import DB_IMAGE, DB_PATH, write_inventory  # noqa: E402

AJUDAPLAY = str(Path(sys.executable).with_name("ajudaplay"))
PROJECT_FILE = ROOT / "tests/infra/docker/project-db/docker-compose.yml"
HAND_DB = "/app/data/hand.db"
SNAPSHOT = f"VACUUM INTO '{HAND_DB}'"


@dataclass
class Measured:
    seconds: float = 0.0
    peak_mb: float = 0.0

    def add(self, other: Measured) -> None:
        self.seconds += other.seconds
        self.peak_mb = max(self.peak_mb, other.peak_mb)


def measured(argv: list[str], *, stdin: int | None = subprocess.DEVNULL, timeout: float = 1800) -> Measured:
    """Run argv to the end; wall time and the process's peak resident set (wait4's ru_maxrss, KiB on Linux).
    Past `timeout` the process is killed and TimeoutError raised."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        out = proc.stdout.read()  # small: console output
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    if time.perf_counter() - started >= timeout:
        raise TimeoutError(f"{' '.join(argv)}: not finished after {timeout:.0f}s")
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{out.decode(errors='replace')[-4000:]}")
    return Measured(elapsed, usage.ru_maxrss / 1024)


def steps(*argvs: list[str]) -> Measured:
    total = Measured()
    for argv in argvs:
        total.add(measured(argv))
    return total


def fill_sql(size_mb: int) -> str:
    """SQL growing the database by about size_mb MB: rows of 1 KB, half random hex (compresses ~2x, like text)."""
    rows = size_mb * 1000
    return ("CREATE TABLE IF NOT EXISTS payload(id INTEGER PRIMARY KEY, data TEXT NOT NULL); "
            f"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {rows}) "
            "INSERT INTO payload(data) SELECT hex(randomblob(256)) || printf('%.488c', 'x') FROM c; "
            "PRAGMA wal_checkpoint(TRUNCATE);")


class Mode:
    """One provisioned service and the hand-made steps for it."""

    name = ""
    inventory: Path

    def sh(self, script: str) -> str:
        raise NotImplementedError

    def hand_backup(self, dest: Path) -> Measured:
        raise NotImplementedError

    def in_service(self) -> list[str]:
        """The argv prefix that runs a command in the service (docker exec C / kubectl exec POD --)."""
        raise NotImplementedError

    def dot_backup(self, limit: float) -> float | None:
        """Seconds `sqlite3 DB .backup` took in the service, None when it did not finish within `limit`."""
        try:
            took = measured([*self.in_service(), "sqlite3", DB_PATH, f".backup {HAND_DB}"], timeout=limit).seconds
        except TimeoutError:
            took = None
        # killing the CLI does not stop the command in the container: find it by its arguments (busybox: no pkill)
        self.sh(f"for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -q '^sqlite3 .*[.]backup' "
                f"&& kill ${{p#/proc/}}; done; sleep 0.5; rm -f {HAND_DB}; true")
        return took

    def hand_restore(self, src: Path) -> Measured:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def db_bytes(self) -> int:
        return int(self.sh(f"stat -c %s {DB_PATH}").strip())

    def grow(self, size_mb: int) -> None:
        """Grow the database to about size_mb MB (from what it holds now)."""
        have = self.db_bytes() // 1_000_000
        if have < size_mb:
            self.sh(f"sqlite3 -cmd '.timeout 20000' {DB_PATH} \"{fill_sql(size_mb - have)}\"")


class Compose(Mode):
    name = "compose"

    def __init__(self, work: Path) -> None:
        self.project = f"ajbench{uuid.uuid4().hex[:6]}"
        self.dir = work / self.project
        self.dir.mkdir(parents=True)
        shutil.copy(PROJECT_FILE, self.dir / "docker-compose.yml")
        self.inventory = write_inventory(work / "compose-inventory.yml", "box", "compose",
                                         {"host": "@local", "project_dir": str(self.dir), "project_name": self.project},
                                         {"service": "api"}, work / "store")
        self.compose("up", "-d")
        self.wait_healthy()

    def compose(self, *args: str) -> None:
        subprocess.run(["docker-compose", "-p", self.project, *args], cwd=self.dir, check=True, capture_output=True)

    def container(self) -> str:
        out = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={self.project}",
                              "--filter", "label=com.docker.compose.service=api"], capture_output=True, text=True)
        return out.stdout.split()[0]

    def sh(self, script: str) -> str:
        return subprocess.run(["docker", "exec", self.container(), "sh", "-c", script], capture_output=True,
                              text=True, check=True).stdout

    def wait_healthy(self) -> None:
        while True:
            state = json.loads(subprocess.run(["docker", "inspect", self.container()], capture_output=True,
                                              text=True).stdout)[0]["State"]
            if state["Running"] and state.get("Health", {}).get("Status") == "healthy":
                return
            time.sleep(0.1)

    def in_service(self) -> list[str]:
        return ["docker", "exec", self.container()]

    def hand_backup(self, dest: Path) -> Measured:
        c = self.container()
        return steps(["docker", "exec", c, "sqlite3", DB_PATH, SNAPSHOT],
                     ["docker", "cp", f"{c}:{HAND_DB}", str(dest)],
                     ["docker", "exec", c, "rm", HAND_DB])

    def hand_restore(self, src: Path) -> Measured:
        c = self.container()
        total = steps(["docker", "stop", c],
                      ["docker", "run", "--rm", "--volumes-from", c, "--entrypoint", "rm", DB_IMAGE, "-f",
                       f"{DB_PATH}-wal", f"{DB_PATH}-shm"],
                      ["docker", "cp", str(src), f"{c}:{DB_PATH}"],
                      ["docker", "start", c])
        started = time.perf_counter()
        self.wait_healthy()
        total.add(Measured(time.perf_counter() - started))
        return total

    def close(self) -> None:
        subprocess.run(["docker-compose", "-p", self.project, "down", "-v", "-t", "1"], cwd=self.dir,
                       capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


class Kubernetes(Mode):
    name = "kubernetes"

    def __init__(self, work: Path) -> None:
        from tests.infra.k8s.controlplane import ControlPlane
        from tests.infra.k8s.node import RealNode, real_pod_placement
        from tests.kubernetes.conftest import NodeCluster
        from tests.kubernetes.data_fixtures import DataService

        self.cp = ControlPlane().start()
        self.node = RealNode(self.cp).start()
        self.ns = "benchdb"
        self.kubeconfig = self.cp.kubeconfig
        self.placement = real_pod_placement()
        self.kubectl("create", "namespace", self.ns, namespaced=False)
        while self.kubectl("get", "serviceaccount", "default", check=False).returncode:
            time.sleep(0.2)
        self.host_dir = Path(tempfile.mkdtemp(prefix="benchdb-", dir="/var/tmp"))
        cluster = NodeCluster(self.kubeconfig, self.ns)
        cluster.apply({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "benchdb-data"},
                       "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"],
                                "storageClassName": "", "persistentVolumeReclaimPolicy": "Retain",
                                "hostPath": {"path": str(self.host_dir), "type": "Directory"},
                                "claimRef": {"namespace": self.ns, "name": "data"}}})
        cluster.apply({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
                       "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "", "volumeName": "benchdb-data",
                                "resources": {"requests": {"storage": "10Gi"}}}})
        self.data = DataService(cluster, self.host_dir, "data", "benchdb-data")
        self.data.deploy(replicas=1)
        self.inventory = write_inventory(work / "k8s-inventory.yml", "cluster", "kubernetes",
                                         {"kubeconfig": str(self.kubeconfig), "namespace": self.ns},
                                         {"deployment": "api", "container": "api"}, work / "store")

    def kubectl(self, *args: str, check: bool = True, namespaced: bool = True) -> subprocess.CompletedProcess[str]:
        ns = ["-n", self.ns] if namespaced else []
        done = subprocess.run(["kubectl", "--kubeconfig", str(self.kubeconfig), *ns, *args], capture_output=True,
                              text=True, timeout=600)
        if check and done.returncode:
            raise SystemExit(f"kubectl {' '.join(args)}: {done.stderr}")
        return done

    def k(self, *args: str) -> list[str]:
        return ["kubectl", "--kubeconfig", str(self.kubeconfig), "-n", self.ns, *args]

    def sh(self, script: str) -> str:
        return self.data.exec("sh", "-c", script).decode()

    def in_service(self) -> list[str]:
        return self.k("exec", self.data.ready_pod(), "-c", "api", "--")

    def hand_backup(self, dest: Path) -> Measured:
        pod = self.data.ready_pod()
        return steps(self.k("exec", pod, "-c", "api", "--", "sqlite3", DB_PATH, SNAPSHOT),
                     self.k("cp", "-c", "api", f"{pod}:{HAND_DB}", str(dest)),
                     self.k("exec", pod, "-c", "api", "--", "rm", HAND_DB))

    def hand_restore(self, src: Path) -> Measured:
        helper = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hand-restore"},
                  "spec": {**self.placement, "restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                           "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
                           "containers": [{"name": "work", "image": DB_IMAGE,
                                           "command": ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"],
                                           "volumeMounts": [{"name": "data", "mountPath": "/app/data"}]}]}}
        manifest = Path(tempfile.mktemp(suffix=".json"))
        manifest.write_text(json.dumps(helper))
        total = steps(self.k("scale", "deployment/api", "--replicas=0"),
                      self.k("wait", "--for=delete", "pod", "-l", "app=api", "--timeout=300s"),
                      self.k("apply", "-f", str(manifest)),
                      self.k("wait", "--for=condition=Ready", "pod/hand-restore", "--timeout=300s"),
                      self.k("cp", "-c", "work", str(src), "hand-restore:/app/data/.hand-restore.db"),
                      self.k("exec", "hand-restore", "--", "sh", "-c",
                             f"rm -f {DB_PATH}-wal {DB_PATH}-shm && mv /app/data/.hand-restore.db {DB_PATH}"),
                      self.k("delete", "pod", "hand-restore", "--grace-period=0", "--wait=true"),
                      self.k("scale", "deployment/api", "--replicas=1"),
                      self.k("rollout", "status", "deployment/api", "--timeout=300s"))
        manifest.unlink()
        return total

    def close(self) -> None:
        self.kubectl("delete", "namespace", self.ns, "--wait=false", check=False, namespaced=False)
        self.kubectl("delete", "pv", "benchdb-data", "--wait=false", check=False, namespaced=False)
        self.node.stop()
        self.cp.stop()
        shutil.rmtree(self.host_dir, ignore_errors=True)


@dataclass
class Row:
    mode: str
    size_mb: float
    results: dict[str, list[Measured]] = field(default_factory=dict)
    dot_backup: float | None = None  # seconds of `sqlite3 .backup` under the writer; None: did not finish

    def put(self, what: str, m: Measured) -> None:
        self.results.setdefault(what, []).append(m)

    def median(self, what: str) -> Measured:
        ms = self.results[what]
        return Measured(statistics.median(m.seconds for m in ms), max(m.peak_mb for m in ms))


def run_ajudaplay(mode: Mode, playbook: str, *args: str) -> Measured:
    return measured([AJUDAPLAY, "run", str(ROOT / "playbooks" / playbook), "-i", str(mode.inventory),
                     "--no-journal", *args])


def bench_mode(mode: Mode, size_mb: int, repeat: int, work: Path, dot_limit: float) -> Row:
    mode.grow(size_mb)
    row = Row(mode.name, mode.db_bytes() / 1e6, dot_backup=mode.dot_backup(dot_limit))
    hand = work / f"{mode.name}-hand.db"
    for _ in range(repeat):  # turns alternate, so a change of load hits both
        row.put("backup ajudaplay", run_ajudaplay(mode, "backup.yml"))
        hand.unlink(missing_ok=True)
        row.put("backup by hand", mode.hand_backup(hand))
        row.put("restore ajudaplay", run_ajudaplay(mode, "restore.yml", "--yes"))
        mode.sh("rm -f /app/data/corrupted-*.db*")  # the kept files: not for the bench's disk
        row.put("restore by hand", mode.hand_restore(hand))
    hand.unlink(missing_ok=True)
    return row


def report(rows: list[Row]) -> None:
    print(f"\n{'mode':<11} {'DB MB':>6} {'step':<8} {'ajudaplay s':>11} {'hand s':>7} {'ratio':>6} "
          f"{'ajudaplay peak MB':>17} {'hand peak MB':>12}")
    for row in rows:
        for verb in ("backup", "restore"):
            a, h = row.median(f"{verb} ajudaplay"), row.median(f"{verb} by hand")
            print(f"{row.mode:<11} {row.size_mb:>6.0f} {verb:<8} {a.seconds:>11.2f} {h.seconds:>7.2f} "
                  f"{a.seconds / h.seconds:>5.2f}x {a.peak_mb:>17.1f} {h.peak_mb:>12.1f}")
    for row in rows:
        took = "did not finish" if row.dot_backup is None else f"{row.dot_backup:.2f} s"
        print(f"{row.mode} {row.size_mb:.0f} MB: sqlite3 .backup under the writer: {took}")


def provisioned(names: list[str], work: Path) -> Iterator[Mode]:
    makers: dict[str, Callable[[Path], Mode]] = {"compose": Compose, "kubernetes": Kubernetes}
    for name in names:
        mode = makers[name](work)
        try:
            yield mode
        finally:
            mode.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--modes", default="compose,kubernetes")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--dot-backup-limit", type=float, default=60.0, help="seconds `sqlite3 .backup` may try")
    opts = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ajudaplay-bench-db-"))
    os.chmod(work, 0o755)
    rows: list[Row] = []
    load = os.getloadavg()[0]
    try:
        for mode in provisioned(opts.modes.split(","), work):
            for size in (max(opts.size_mb // 4, 1), opts.size_mb):
                print(f"{mode.name}: {size} MB ...", flush=True)
                rows.append(bench_mode(mode, size, opts.repeat, work, opts.dot_backup_limit))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(rows)
    print(f"\nload average (1 min) before {load:.2f}, after {os.getloadavg()[0]:.2f}; "
          f"median of {opts.repeat}; peak = largest resident set of one controller process")


if __name__ == "__main__":
    main()
