"""The database verbs end to end on Compose (issue 9): the shipped playbooks on a real project, local and over SSH.

The project is tests/infra/docker/project-db (the SQLite writer image on a named volume at /app/data),
started with docker-compose; ajudaplay reaches it as a Compose target on `@local` or through the
loopback sshd (the same engine). The scenarios are tests/database/e2e.py's, shared with Kubernetes;
`docker exec` with the image's sqlite3 is the independent client.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.compose.conftest import docker, docker_engine, ssh_connection, sshd  # noqa: F401 - fixtures
from tests.database import e2e

pytestmark = pytest.mark.docker

PROJECT_FILE = e2e.ROOT / "tests/infra/docker/project-db/docker-compose.yml"
HELPER_LABEL = "ajudaplay.data-for"  # ajudaplay/targets/compose/workspace.py's one-off containers


class ComposeDb:
    """A running project-db project and the inventory that names it (e2e.DbService)."""

    def __init__(self, name: str, project_dir: Path, inventory: Path, store: Path) -> None:
        self.name, self.project_dir, self.inventory, self.store = name, project_dir, inventory, store

    def compose(self, *args: str) -> None:
        subprocess.run(["docker-compose", "-p", self.name, *args], cwd=self.project_dir, check=True,
                       capture_output=True, timeout=180)

    def containers(self) -> list[dict[str, Any]]:
        ids = docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={self.name}",
                     "--filter", "label=com.docker.compose.service=api").split()
        return json.loads(docker("inspect", *ids)) if ids else []

    def running(self) -> str:
        live = [c["Id"] for c in self.containers() if c["State"]["Running"]]
        assert live, "no running container of the service"
        return str(live[0])

    def sh(self, script: str) -> str:
        return docker("exec", self.running(), "sh", "-c", script)

    def identity(self) -> list[str]:
        return sorted(f"{c['Id']}@{c['State']['StartedAt']}" for c in self.containers())

    def stopped(self) -> bool:
        cs = self.containers()
        return bool(cs) and not any(c["State"]["Running"] for c in cs)

    def wait_healthy(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            cs = self.containers()
            if cs and all(c["State"]["Running"] and c["State"].get("Health", {}).get("Status") == "healthy" for c in cs):
                return
            assert time.monotonic() < deadline, f"not healthy after {timeout}s: {[c['State'] for c in cs]}"
            time.sleep(0.3)

    def leftovers(self) -> list[str]:
        return docker("ps", "-aq", "--filter", f"label={HELPER_LABEL}={self.name}/api").split()

    def volume_files(self) -> list[str]:
        mountpoint = docker("volume", "inspect", "-f", "{{.Mountpoint}}", f"{self.name}_data").strip()
        return os.listdir(mountpoint)


def start_project(request: pytest.FixtureRequest, tmp_path: Path, mode: str) -> ComposeDb:
    name = f"ajdb{mode[0]}{uuid.uuid4().hex[:8]}"
    project_dir = Path("/tmp/ajudaplay-ct") / name
    os.makedirs(project_dir.parent, mode=0o1777, exist_ok=True)
    project_dir.mkdir()
    os.chmod(project_dir, 0o777)  # the SSH user writes ajudaplay's lock and state there
    shutil.copy(PROJECT_FILE, project_dir / "docker-compose.yml")
    connection = {"host": "@local"} if mode == "local" else ssh_connection(request.getfixturevalue("sshd"))
    connection.update(project_dir=str(project_dir), project_name=name)
    store = tmp_path / "backups"
    inventory = e2e.write_inventory(tmp_path / "inventory.yml", "box", "compose", connection, {"service": "api"}, store)
    service = ComposeDb(name, project_dir, inventory, store)

    def cleanup() -> None:
        subprocess.run(["docker-compose", "-p", name, "down", "-v", "-t", "1"], cwd=project_dir,
                       capture_output=True, timeout=120)
        for leftover in service.leftovers():
            docker("rm", "-f", leftover, check=False)
        shutil.rmtree(project_dir, ignore_errors=True)

    request.addfinalizer(cleanup)
    service.compose("up", "-d")
    service.wait_healthy()
    return service


@pytest.fixture(params=["local", pytest.param("ssh", marks=pytest.mark.ssh)])
def db(request: pytest.FixtureRequest, tmp_path: Path, docker_engine: None) -> ComposeDb:  # noqa: F811
    """A fresh database service per test, reached on @local and over SSH."""
    return start_project(request, tmp_path, request.param)


@pytest.fixture
def local_db(request: pytest.FixtureRequest, tmp_path: Path, docker_engine: None) -> ComposeDb:  # noqa: F811
    """The same, @local only: the scenarios whose transport does not matter (the files go the same way)."""
    return start_project(request, tmp_path, "local")


def test_backup_under_write_load_then_restore_holds_every_row(db: ComposeDb) -> None:
    e2e.backup_under_write_load_then_restore(db)


def test_corrupted_database_fails_check_and_db_recover_restores_the_newest(db: ComposeDb) -> None:
    e2e.corrupted_fails_check_and_recover_restores_newest(db)


def test_point_in_time_picks_the_right_backup(local_db: ComposeDb) -> None:
    e2e.point_in_time_picks_the_right_backup(local_db)


def test_encrypted_round_trip_and_wrong_key_changes_nothing(local_db: ComposeDb, tmp_path: Path) -> None:
    def with_key(key: str) -> Path:
        inv = json.loads(local_db.inventory.read_text())
        folder = tmp_path / f"inv-{uuid.uuid4().hex[:6]}"
        folder.mkdir()
        compose = inv["targets"]["box"]["compose"]
        return e2e.write_inventory(folder / "inventory.yml", "box", "compose", compose, {"service": "api"},
                                   local_db.store, key)

    e2e.encrypted_round_trip_and_wrong_key(local_db, with_key)


def test_tampered_backup_is_refused(local_db: ComposeDb) -> None:
    e2e.tampered_backup_is_refused(local_db)


def test_ctrl_c_during_restore_leaves_the_service_restartable(local_db: ComposeDb) -> None:
    e2e.interrupted_restore_leaves_service_restartable(local_db)


def test_s3_store_round_trip(local_db: ComposeDb, tmp_path: Path) -> None:
    """backup.yml into S3-compatible storage, `backups` lists it, restore.yml brings it back. moto's
    standalone server (tests/infra/s3) stands in for the cloud: nothing leaves this machine. The
    credentials are secret variables of the inventory, so they never show in the output."""
    import boto3

    from tests.infra.s3.s3server import MotoServer

    with MotoServer() as s3:
        client = boto3.client("s3", endpoint_url=s3.endpoint_url, **s3.credentials)
        client.create_bucket(Bucket="backups")
        inv = json.loads(local_db.inventory.read_text())
        inv["backup_store"] = {"type": "s3", "bucket": "backups", "prefix": "e2e/", "endpoint_url": s3.endpoint_url,
                               "region": "us-east-1", "access_key_id": "{{ s3_key_id }}",
                               "secret_access_key": "{{ s3_secret }}"}
        (tmp_path / "secrets.env").write_text(
            f"backup_key={e2e.KEY}\ns3_key_id={s3.credentials['aws_access_key_id']}\n"
            f"s3_secret={s3.credentials['aws_secret_access_key']}\n")
        local_db.inventory.write_text(json.dumps(inv))
        before = e2e.wait_rows(local_db, 10)
        made = e2e.backup(local_db, "-e", "encrypt=true")
        keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket="backups")["Contents"])
        # <prefix><environment (the inventory file's name)>/<target>/<service>/<database>/<name>...
        assert keys == [f"e2e/inventory/box/api/main/{made['name']}{suffix}" for suffix in (".db.gz.enc", ".json")]
        done = e2e.restore(local_db, "-e", f"backup={made['name']}")
        assert done.rc == 0, done.text
        assert s3.credentials["aws_secret_access_key"] not in done.text
        local_db.wait_healthy()
        assert int(e2e.sql(local_db, f"SELECT count(*) FROM events WHERE id <= {before};")) == before


def test_db_recover_check_mode_and_without_confirmation_change_nothing(local_db: ComposeDb) -> None:
    e2e.recover_check_mode_and_confirm(local_db)
