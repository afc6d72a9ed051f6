"""storage.yml end to end on a real Compose project: df/du and the named volume, a dry run, a real cleanup.

The project is tests/infra/docker/project-db (the SQLite writer on a named volume at /app/data),
started with docker-compose, reached @local. Files old and new are made with busybox `touch -d`,
with a symlink pointing outside the path and a symlinked folder; `docker exec` and `docker inspect`
are the independent checks. One project for the module, three runs of the shipped playbook.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.compose.conftest import docker, docker_engine  # noqa: F401 - fixtures
from tests.database import e2e
from tests.database.test_e2e_compose import ComposeDb, start_project

pytestmark = pytest.mark.docker

LOGS = "/app/data/logs"
SETUP = f"""
set -e
mkdir -p {LOGS}/sub /tmp/outside/deep
echo secret > /tmp/outside/secret.log; touch -d '2020-01-01 00:00' /tmp/outside/secret.log
echo deep > /tmp/outside/deep/old.log; touch -d '2020-01-01 00:00' /tmp/outside/deep/old.log
for n in 1 2 3; do head -c 1000 /dev/zero > {LOGS}/old$n.log; done
touch -d '2020-01-01 00:00' {LOGS}/old1.log; touch -d '2020-01-02 00:00' {LOGS}/old2.log
touch -d '2020-01-03 00:00' {LOGS}/old3.log
head -c 500 /dev/zero > {LOGS}/sub/old4.log; touch -d '2020-01-01 00:00' {LOGS}/sub/old4.log
echo new > {LOGS}/new.log
echo txt > {LOGS}/old.txt; touch -d '2020-01-01 00:00' {LOGS}/old.txt
ln -s /tmp/outside/secret.log {LOGS}/link.log; touch -h -d '2020-01-01 00:00' {LOGS}/link.log
ln -s /tmp/outside {LOGS}/linkdir; touch -h -d '2020-01-01 00:00' {LOGS}/linkdir
"""
ARGS = ["-e", f"clean_path={LOGS}", "-e", "clean_keep_last=1", "-e", "threshold=100"]


@pytest.fixture(scope="module")
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, docker_engine: None) -> ComposeDb:  # noqa: F811
    service = start_project(request, tmp_path_factory.mktemp("storage"), "local")
    inventory = json.loads(service.inventory.read_text())
    inventory["targets"]["box"]["services"]["api"]["cleanup_command"] = "touch /app/data/script-ran && echo cleaned"
    service.inventory.write_text(json.dumps(inventory))
    service.sh(SETUP)
    return service


def files(db: ComposeDb) -> set[str]:
    return set(db.sh(f"find {LOGS} /tmp/outside | sort").split())


def data(run: e2e.Run, task: str) -> dict[str, Any]:
    return run.data(task)


def test_disk_lists_the_volume_and_a_dry_run_removes_nothing(db: ComposeDb) -> None:
    before = files(db)
    run = e2e.ajudaplay_run(db.inventory, "storage.yml", *ARGS, "-D", "--check")  # disk runs in check mode too
    assert run.rc == 0, run.text
    disk = run.data("Disk of the service")
    df = db.sh("df -P -k /app/data | tail -n 1").split()
    assert (disk["size_kb"], disk["mount"]) == (int(df[1]), "/app/data") and 0 <= disk["percent"] <= 100
    assert disk["path_kb"] >= 3, disk  # the logs and the database are under it
    mounts = json.loads(docker("inspect", "--format", "{{json .Mounts}}", db.running()))
    [volume] = disk["volumes"]
    assert volume["name"] == mounts[0]["Name"] == f"{db.name}_data" and volume["kind"] == "volume"
    assert volume["mount_path"] == "/app/data" and volume["holds_path"] is True

    dry = run.data("What cleanup would remove (dry run; -e clean=true removes)")
    assert sorted(dry["removed"]) == [f"{LOGS}/old1.log", f"{LOGS}/old2.log", f"{LOGS}/sub/old4.log"], dry
    assert dry["kept"] == [f"{LOGS}/old3.log"] and dry["freed_bytes"] == 2500 and dry["check"] is True
    assert dry["skipped_files"] == [{"path": f"{LOGS}/link.log", "reason": "symlink: never followed, never removed"}]
    assert f"would remove {LOGS}/old1.log" in run.text  # -D shows the list
    assert run.status("Clean up") == "skipped"
    assert run.data("Cleanup summary")["msg"] == f"would remove 3 file(s), 2500 bytes; left alone: {LOGS}/link.log"
    assert files(db) == before  # check mode: nothing removed


def test_cleanup_removes_only_old_regular_files_under_the_path_then_the_script(db: ComposeDb) -> None:
    run = e2e.ajudaplay_run(db.inventory, "storage.yml", *ARGS, "-e", "clean=true")
    assert run.rc == 0, run.text
    done = run.data("Clean up")
    assert sorted(done["removed"]) == [f"{LOGS}/old1.log", f"{LOGS}/old2.log", f"{LOGS}/sub/old4.log"], done
    assert done["freed_bytes"] == 2500 and done["check"] is False
    left = files(db)
    assert {f"{LOGS}/old1.log", f"{LOGS}/old2.log", f"{LOGS}/sub/old4.log"}.isdisjoint(left)
    assert {f"{LOGS}/old3.log", f"{LOGS}/new.log", f"{LOGS}/old.txt", f"{LOGS}/link.log", f"{LOGS}/linkdir",
            "/tmp/outside/secret.log", "/tmp/outside/deep/old.log"} <= left  # the symlinks' targets survive
    assert db.sh("cat /tmp/outside/secret.log").strip() == "secret"

    script = e2e.ajudaplay_run(db.inventory, "storage.yml", *ARGS, "-e", "clean=true", "-e", "use_command=true",
                               "-e", "threshold=0")  # the verdict fails: no disk is under 0% used
    assert script.rc == 2 and script.status("Disk use is under the threshold") == "failed", script.text
    assert f"/app/data in api is {script.data('Disk after cleanup')['percent']}% used (threshold 0%)" in script.text
    ran = script.data("Clean up")
    assert ran["command"] == "touch /app/data/script-ran && echo cleaned" and ran["stdout_lines"] == ["cleaned"]
    assert db.sh("ls /app/data/script-ran").strip() == "/app/data/script-ran"
