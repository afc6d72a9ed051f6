"""The database verbs end to end on the real test node (issue 9): the shipped playbooks through `ajudaplay run`.

The service is tests/kubernetes/data_fixtures.py's: a Deployment of the SQLite writer image with a
PersistentVolumeClaim bound to a hostPath PersistentVolume at /app/data, so the data survives the
restore's scale to 0 (the file work happens in a short-lived pod on the same claim). The scenarios
are tests/database/e2e.py's, shared with Compose; kubectl (exec with the image's sqlite3, get) is the
independent client.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.database import e2e
from tests.kubernetes.data_fixtures import DBAPI_IMAGE, DataService, data_service  # noqa: F401 - fixture

pytestmark = pytest.mark.kubernetes


class KubeDb:
    """The data service seen through kubectl (e2e.DbService)."""

    def __init__(self, data: DataService, inventory: Path, store: Path) -> None:
        self.data, self.inventory, self.store = data, inventory, store

    def sh(self, script: str) -> str:
        """kubectl exec in a running pod, Ready or not (a corrupted database makes the readiness probe fail)."""
        running = sorted(p["metadata"]["name"] for p in self.live_pods()
                         if (p.get("status") or {}).get("phase") == "Running")
        assert running, f"no running pod of {self.data.name}"
        cluster = self.data.cluster
        return subprocess.run(["kubectl", "--kubeconfig", str(cluster.kubeconfig), "-n", cluster.namespace, "exec",
                               running[0], "-c", "api", "--", "sh", "-c", script],
                              capture_output=True, check=True, timeout=120, text=True).stdout

    def live_pods(self) -> list[dict[str, Any]]:
        return [p for p in self.data.pods() if not p["metadata"].get("deletionTimestamp")]

    def identity(self) -> list[str]:
        return sorted(p["metadata"]["name"] for p in self.data.pods())

    def stopped(self) -> bool:
        spec = self.data.cluster.get("deployment", self.data.name)["spec"]
        return int(spec.get("replicas") or 0) == 0

    def wait_healthy(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            dep = self.data.cluster.get("deployment", self.data.name)
            want = int(dep["spec"].get("replicas") or 0)
            ready = int((dep.get("status") or {}).get("readyReplicas") or 0)
            pods = self.data.pods()
            if want >= 1 and ready == want and len(pods) == want:
                return
            assert time.monotonic() < deadline, f"not healthy after {timeout}s: {json.dumps(dep.get('status'))}"
            time.sleep(0.5)

    def leftovers(self) -> list[str]:
        return [p["metadata"]["name"] for p in self.data.data_pods()]

    def volume_files(self) -> list[str]:
        return os.listdir(self.data.host_dir)  # the hostPath PersistentVolume's folder: this machine


@pytest.fixture
def db(data_service: DataService, tmp_path: Path) -> KubeDb:  # noqa: F811
    assert data_service.image == DBAPI_IMAGE, "build ajudaplay-test/dbapi:v1: bash tests/infra/docker/build-images.sh"
    data_service.deploy(replicas=1)
    cluster = data_service.cluster
    connection = {"kubeconfig": str(cluster.kubeconfig), "namespace": cluster.namespace}
    store = tmp_path / "backups"
    inventory = e2e.write_inventory(tmp_path / "inventory.yml", "cluster", "kubernetes", connection,
                                    {"deployment": data_service.name, "container": "api"}, store)
    return KubeDb(data_service, inventory, store)


def test_backup_under_write_load_then_restore_holds_every_row(db: KubeDb) -> None:
    e2e.backup_under_write_load_then_restore(db)
    dep = db.data.cluster.get("deployment", db.data.name)
    assert dep["spec"]["replicas"] == 1  # back at the recorded count
    assert "ajudaplay.io/restore-replicas" not in (dep["metadata"].get("annotations") or {})


def test_corrupted_database_fails_check_and_db_recover_restores_the_newest(db: KubeDb) -> None:
    e2e.corrupted_fails_check_and_recover_restores_newest(db)


def test_point_in_time_picks_the_right_backup(db: KubeDb) -> None:
    e2e.point_in_time_picks_the_right_backup(db)


def test_encrypted_round_trip_and_wrong_key_changes_nothing(db: KubeDb, tmp_path: Path) -> None:
    def with_key(key: str) -> Path:
        inv = json.loads(db.inventory.read_text())
        folder = tmp_path / f"inv-{uuid.uuid4().hex[:6]}"
        folder.mkdir()
        return e2e.write_inventory(folder / "inventory.yml", "cluster", "kubernetes",
                                   inv["targets"]["cluster"]["kubernetes"],
                                   {"deployment": db.data.name, "container": "api"}, db.store, key)

    e2e.encrypted_round_trip_and_wrong_key(db, with_key)


def test_tampered_backup_is_refused(db: KubeDb) -> None:
    e2e.tampered_backup_is_refused(db)


def test_ctrl_c_during_restore_leaves_the_service_restartable(db: KubeDb) -> None:
    e2e.interrupted_restore_leaves_service_restartable(db)
    assert db.data.cluster.get("deployment", db.data.name)["spec"]["replicas"] == 1


def test_db_recover_check_mode_and_without_confirmation_change_nothing(db: KubeDb) -> None:
    e2e.recover_check_mode_and_confirm(db)
    assert not db.leftovers()


def test_restarted_at_its_previous_replica_count(db: KubeDb) -> None:
    """Two replicas before the restore (both on the one claim: the node is one machine) -> two after."""
    db.data.deploy(replicas=2)
    e2e.wait_rows(db, 5)
    e2e.backup(db)
    done = e2e.restore(db)
    assert done.rc == 0, done.text
    db.wait_healthy()
    assert db.data.cluster.get("deployment", db.data.name)["spec"]["replicas"] == 2
    assert len(db.live_pods()) == 2
