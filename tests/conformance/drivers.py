"""One driver per target kind: provision the same service, hand back the inventory entry that names it.

Every driver starts from the same `ServiceDescription` (a name, the image it runs first, its replicas,
the names of its ConfigMap/Secret where a mode has them) and builds what that mode needs:
a Compose project (compose-host.yml, the project's own preparation playbook), a Deployment plus
ConfigMap plus Secret on the real test node, or the fake target's initial state. Provisioning happens
once per mode (module-scoped fixtures in conftest.py); the scenarios then reuse that state in order.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

API_V1, API_V2, API_V3, API_UNHEALTHY = (f"ajudaplay-test/api:{tag}" for tag in ("v1", "v2", "v3", "unhealthy"))
MODE_IDS = ("compose-local", "compose-ssh", "kubernetes", "fake")  # the order they run in
REFERENCE = "compose-local"  # test_conformance_agreement.py compares every other mode with this one


@dataclass(frozen=True)
class ServiceDescription:
    """The service every mode provisions: what it runs before the first scenario."""

    name: str = "api"
    image: str = API_V1
    replicas: int = 1
    configmap: str = "api-config"
    secret: str = "api-env"
    certificate: str = "api-tls"  # a cert-manager Certificate that the suite never creates


SERVICE = ServiceDescription()

# The database verbs' service (db_check, backup, restore, backups): the SQLite writer image with its data
# on a volume that outlives its containers, next to `api` on every mode.
DB_SERVICE, DB_IMAGE, DB_DIR = "db", "ajudaplay-test/dbapi:v1", "/app/data"
DB_PATH = f"{DB_DIR}/ajudadorabot.db"
DB_COMPOSE_FILE = "conformance-db.yml"
VOLUME_ROOT = Path("/var/tmp/ajudaplay-test-volumes")  # tests/kubernetes/data_fixtures.py's hostPath folders


@dataclass
class Mode:
    """A provisioned target: its id (test ids, reports) and the inventory that reaches it."""

    id: str  # "fake", "compose-local", "compose-ssh", "kubernetes"
    kind: str  # the inventory kind: fake, compose, kubernetes
    inventory: dict[str, Any]
    workdir: Path
    make_target: Callable[[Any], Any] | None = None  # None: the engine's factory builds a new target per run
    cleanup: Callable[[], None] | None = None  # what provisioning made outside the workdir, removed after the module

    def write_inventory(self) -> Path:
        path = self.workdir / "inventory.yml"
        path.write_text(json.dumps(self.inventory, indent=2))  # JSON is YAML
        return path


def kind_of(mode_id: str) -> str:
    """The inventory kind of a mode id: "compose-ssh" -> "compose"."""
    return mode_id.split("-")[0]


def inventory_for(kind: str, connection: dict[str, Any], service: dict[str, Any],
                  db: dict[str, Any] | None = None, store: Path | None = None) -> dict[str, Any]:
    """One target `t` of `kind` with the service (and the database service `db`, its backups in a controller
    folder `store`); the scenario playbooks run on `hosts: t`."""
    services = {SERVICE.name: service}
    if db is not None:
        services[DB_SERVICE] = db
    inv: dict[str, Any] = {"targets": {"t": {kind: connection, "services": services}}}
    if store is not None:
        inv["backup_store"] = {"type": "controller", "path": str(store)}
    return inv


def _seed_database(path: Path) -> None:
    """The fake's database: what the dbapi image's writer makes, with a few rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE IF NOT EXISTS events(id INTEGER PRIMARY KEY, at TEXT NOT NULL, host TEXT NOT NULL)")
        con.executemany("INSERT INTO events(at, host) VALUES (datetime('now'), ?)", [("fake",)] * 50)
    con.close()


def fake_mode(workdir: Path, svc: ServiceDescription = SERVICE) -> Mode:
    """The fake target (ajudaplay/targets/fake.py) starting at `svc.image` as its revision 1.

    Its state lives in the FakeTarget object, so every run gets the same one (a real target's
    state lives in Docker or the cluster and outlasts the run).
    """
    from ajudaplay.targets.fake import FakeTarget

    connection = {"images": {svc.name: svc.image, DB_SERVICE: DB_IMAGE}, "unhealthy_images": [API_UNHEALTHY]}
    db_file = workdir / "db-data" / "ajudadorabot.db"  # the fake's workspace is the controller
    _seed_database(db_file)
    kept: dict[str, FakeTarget] = {}

    def make_target(spec: Any) -> FakeTarget:
        if spec.name not in kept:
            kept[spec.name] = FakeTarget(spec)
        return kept[spec.name]

    inv = inventory_for("fake", connection, {}, {"database": {"path": str(db_file)}}, workdir / "backups")
    return Mode("fake", "fake", inv, workdir, make_target)


def compose_mode(mode_id: str, workdir: Path, project: Any, svc: ServiceDescription = SERVICE) -> Mode:
    """A Compose project made by tests/compose/conftest.py's make_project (compose-host.yml: api at v1), plus
    the `db` service from a second compose file (the dbapi image, a named volume at /app/data)."""
    inv = json.loads(Path(project.inventory).read_text())
    connection = dict(inv["targets"]["box"]["compose"], compose_files=["docker-compose.yml", DB_COMPOSE_FILE])
    (Path(project.dir) / DB_COMPOSE_FILE).write_text(json.dumps({  # JSON is YAML
        "services": {DB_SERVICE: {
            "image": DB_IMAGE, "volumes": ["data:/app/data"],
            "healthcheck": {"test": ["CMD", "wget", "-q", "-O-", "http://127.0.0.1:8080/cgi-bin/health"],
                            "interval": "1s", "timeout": "5s", "retries": 3}}},
        "volumes": {"data": {}}}))
    files = ["-f", "docker-compose.yml", "-f", DB_COMPOSE_FILE]
    subprocess.run(["docker-compose", "-p", project.name, *files, "up", "-d", DB_SERVICE], cwd=project.dir,
                   check=True, capture_output=True, timeout=180)

    def cleanup() -> None:
        subprocess.run(["docker-compose", "-p", project.name, *files, "down", "-v", "-t", "1"], cwd=project.dir,
                       capture_output=True, timeout=180)

    inventory = inventory_for("compose", connection, {"service": svc.name},
                              {"service": DB_SERVICE, "database": {"path": DB_PATH}}, workdir / "backups")
    return Mode(mode_id, "compose", inventory, workdir, cleanup=cleanup)


def kubernetes_objects(svc: ServiceDescription = SERVICE) -> list[dict[str, Any]]:
    """The ConfigMap and Secret the service maps to, and a Service in front of its pods (`endpoints` reads
    it); the Deployment comes from tests/kubernetes/conftest.py."""
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": svc.configmap}, "data": {}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": svc.secret}, "type": "Opaque", "data": {}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": svc.name},
         "spec": {"selector": {"app": svc.name}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}},
    ]


def kubernetes_mode(workdir: Path, cluster: Any, svc: ServiceDescription = SERVICE) -> Mode:
    """A Deployment (real pods on the test node, readiness like the Compose healthcheck) + ConfigMap + Secret."""
    for manifest in kubernetes_objects(svc):
        cluster.apply(manifest)
    # progress deadline 15 s: an image that never gets Ready fails its rollout soon (atomic scenario), and a
    # real pod on a loaded machine still has the time to get Ready
    cluster.deployment(svc.name, svc.image, replicas=svc.replicas, container=svc.name, deadline=15)
    connection = {"kubeconfig": str(cluster.kubeconfig), "namespace": cluster.namespace}
    service = {"deployment": svc.name, "container": svc.name, "configmap": svc.configmap, "secret": svc.secret,
               "certificate": svc.certificate}
    cleanup = kubernetes_db(cluster)
    inventory = inventory_for("kubernetes", connection, service,
                              {"deployment": DB_SERVICE, "container": DB_SERVICE, "database": {"path": DB_PATH}},
                              workdir / "backups")
    return Mode("kubernetes", "kubernetes", inventory, workdir, cleanup=cleanup)


def kubernetes_db(cluster: Any) -> Callable[[], None]:
    """The `db` Deployment with its data on a PersistentVolumeClaim bound to a hostPath PersistentVolume (the
    restore scales it to 0: the data must outlive its pods), as tests/kubernetes/data_fixtures.py does.
    Returns what removes the volume afterwards (the namespace goes with the module)."""
    from tests.kubernetes.conftest import real_deployment_manifest
    from tests.kubernetes.data_fixtures import readiness

    VOLUME_ROOT.mkdir(parents=True, exist_ok=True)
    host_dir = Path(tempfile.mkdtemp(prefix=f"{cluster.namespace}-conf-", dir=VOLUME_ROOT))
    pv = f"ajudaplay-{cluster.namespace}-db"
    cluster.apply({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv},
                   "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "",
                            "persistentVolumeReclaimPolicy": "Retain",
                            "hostPath": {"path": str(host_dir), "type": "Directory"},
                            "claimRef": {"namespace": cluster.namespace, "name": "db-data"}}})
    cluster.apply({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "db-data"},
                   "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "", "volumeName": pv,
                            "resources": {"requests": {"storage": "1Gi"}}}})
    deadline = time.monotonic() + 60
    while (cluster.get("pvc", "db-data").get("status") or {}).get("phase") != "Bound":
        assert time.monotonic() < deadline, "pvc db-data not Bound after 60s"
        time.sleep(0.3)
    manifest = real_deployment_manifest(DB_SERVICE, DB_IMAGE, replicas=1, container=DB_SERVICE)
    pod = manifest["spec"]["template"]["spec"]
    pod["containers"][0]["readinessProbe"] = readiness("/cgi-bin/health")
    pod["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": DB_DIR}]
    pod["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "db-data"}}]
    cluster.apply(manifest)
    cluster.kubectl("rollout", "status", f"deployment/{DB_SERVICE}", "--timeout=120s")

    def cleanup() -> None:
        cluster.kubectl("delete", "deployment", DB_SERVICE, "--ignore-not-found", "--wait=false", check=False)
        cluster.kubectl("delete", "pvc", "db-data", "--ignore-not-found", "--wait=false", check=False)
        cluster.kubectl("delete", "pv", pv, "--ignore-not-found", "--wait=false", check=False)
        shutil.rmtree(host_dir, ignore_errors=True)

    return cleanup
