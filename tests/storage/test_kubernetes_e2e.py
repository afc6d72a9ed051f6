"""storage.yml end to end on the real test node: df of a PVC-backed path, the claim listed, a real cleanup.

The service is tests/kubernetes/data_fixtures.py's (a hostPath PersistentVolume bound to claim `data`,
mounted at /app/data). Files are made old with busybox `touch -d` through kubectl exec; kubectl (exec,
get pvc) and the volume's folder on this machine are the independent checks. One playbook run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.database import e2e
from tests.kubernetes.conftest import node_cluster  # noqa: F401 - fixture (conftest of another folder)
from tests.kubernetes.data_fixtures import DataService, data_service  # noqa: F401 - fixture

pytestmark = pytest.mark.kubernetes

LOGS = "/app/data/logs"
SETUP = f"""
set -e
mkdir -p {LOGS} /tmp/outside
echo keep > /tmp/outside/secret.log; touch -d '2020-01-01 00:00' /tmp/outside/secret.log
for n in 1 2; do echo old > {LOGS}/old$n.log; done
touch -d '2020-01-01 00:00' {LOGS}/old1.log; touch -d '2020-01-02 00:00' {LOGS}/old2.log
echo new > {LOGS}/new.log
ln -s /tmp/outside/secret.log {LOGS}/link.log; touch -h -d '2020-01-01 00:00' {LOGS}/link.log
"""


def test_disk_of_a_pvc_path_and_cleanup_on_the_node(data_service: DataService, tmp_path: Path) -> None:  # noqa: F811
    data_service.deploy(replicas=1)
    cluster = data_service.cluster
    connection = {"kubeconfig": str(cluster.kubeconfig), "namespace": cluster.namespace}
    inventory = e2e.write_inventory(tmp_path / "inventory.yml", "cluster", "kubernetes", connection,
                                    {"deployment": data_service.name, "container": "api"}, tmp_path / "backups")
    data_service.exec("sh", "-c", SETUP)

    run = e2e.ajudaplay_run(inventory, "storage.yml", "-e", f"clean_path={LOGS}", "-e", "clean_keep_last=0",
                            "-e", "clean=true", "-e", "threshold=100")
    assert run.rc == 0, run.text
    disk = run.data("Disk of the service")
    df = data_service.exec("sh", "-c", "df -P -k /app/data | tail -n 1").decode().split()
    assert (disk["size_kb"], disk["used_kb"] > 0, disk["mount"]) == (int(df[1]), True, "/app/data"), disk
    pvc = cluster.get("pvc", "data")
    [volume] = [v for v in disk["volumes"] if v["kind"] == "persistentVolumeClaim"]
    assert volume["claim"] == "data" and volume["phase"] == pvc["status"]["phase"] == "Bound"
    assert volume["capacity"] == pvc["status"]["capacity"]["storage"] == "1Gi" and volume["volume"] == data_service.pv
    assert volume["mount_path"] == "/app/data" and volume["holds_path"] is True and volume["storage_class"] == ""

    cleaned = run.data("Clean up")
    assert sorted(cleaned["removed"]) == [f"{LOGS}/old1.log", f"{LOGS}/old2.log"], cleaned
    assert cleaned["skipped_files"] == [{"path": f"{LOGS}/link.log", "reason": "symlink: never followed, never removed"}]
    assert sorted(os.listdir(data_service.host_dir / "logs")) == ["link.log", "new.log"]  # the volume, on this node
    assert data_service.exec("cat", "/tmp/outside/secret.log").decode().strip() == "keep"
    assert run.data("Disk after cleanup")["size_kb"] == disk["size_kb"]  # read again after the cleanup
