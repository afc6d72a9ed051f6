"""The database verbs' end-to-end scenarios, written once and run on both modes.

Each scenario drives the shipped playbooks (backup.yml, restore.yml, db-check.yml, db-recover.yml)
through `ajudaplay run` (a subprocess, the installed CLI) against a service of the SQLite test image
`ajudaplay-test/dbapi:v1`, which inserts a timestamped row every 100 ms while it runs. What the
service holds is read back by an independent client (`docker exec` / `kubectl exec` running the
image's own sqlite3), never through ajudaplay. A mode provides a `DbService` (tests/database/
test_e2e_compose.py, tests/kubernetes/test_database_e2e.py); the scenarios below are the assertions.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"
AJUDAPLAY = str(Path(sys.executable).with_name("ajudaplay"))
DB_IMAGE = "ajudaplay-test/dbapi:v1"
DB_PATH = "/app/data/ajudadorabot.db"
DATA_DIR = "/app/data"
KEY = "e2e-Backup-Key-51c9"  # the secret variable backup_key: must never show in any output
WRONG_KEY = "not-the-key-0000"


@dataclass
class Run:
    """One finished `ajudaplay run --output json`: exit code, output, and the JSON events."""

    rc: int
    stdout: str
    stderr: str
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.stdout + self.stderr

    def data(self, task: str) -> dict[str, Any]:
        """The data of the one result of `task` (what `register:` stored)."""
        found = [e for e in self.events if e.get("event") == "task_result" and e.get("task") == task]
        assert len(found) == 1, f"{len(found)} results of {task!r}:\n{self.text}"
        data: dict[str, Any] = found[0].get("data") or {}
        return data

    def status(self, task: str) -> str:
        found = [e for e in self.events if e.get("event") == "task_result" and e.get("task") == task]
        assert len(found) == 1, f"{len(found)} results of {task!r}:\n{self.text}"
        return str(found[0]["status"])


def write_inventory(path: Path, target: str, kind: str, connection: dict[str, Any], service: dict[str, Any],
                    store: Path, key: str = KEY) -> Path:
    """One target with service `api` (its database at DB_PATH), a controller store, and backup_key a secret."""
    (path.parent / "secrets.env").write_text(f"backup_key={key}\n")
    doc = {
        "backup_store": {"type": "controller", "path": str(store)},
        "secrets": {"env_file": "secrets.env"},
        "targets": {target: {kind: connection,
                             "services": {"api": {**service, "database": {"path": DB_PATH}}}}},
    }
    path.write_text(json.dumps(doc, indent=2))  # JSON is YAML
    return path


def ajudaplay_run(inventory: Path, playbook: str, *args: str, timeout: float = 300) -> Run:
    """`ajudaplay run playbooks/PLAYBOOK -i INVENTORY --output json ARGS` (no journal, no terminal)."""
    cmd = [AJUDAPLAY, "run", str(PLAYBOOKS / playbook), "-i", str(inventory), "--no-journal", "--output", "json",
           *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env=dict(os.environ, NO_COLOR="1"))
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return Run(done.returncode, done.stdout, done.stderr, events)


class DbService(Protocol):
    """A running dbapi service on one mode, seen by an independent client."""

    inventory: Path
    store: Path  # the controller folder the inventory's backup_store names

    def sh(self, script: str) -> str:
        """`sh -c SCRIPT` inside a running container of the service; its stdout."""

    def identity(self) -> list[str]:
        """What changes when the service is stopped and started again (container ids and start times,
        pod names): equal before and after = the service was not touched."""

    def stopped(self) -> bool:
        """No container of the service is running (the restore's offline phase)."""

    def wait_healthy(self, timeout: float = 120) -> None:
        """Until the service is running and healthy again (raises AssertionError on timeout)."""

    def leftovers(self) -> list[str]:
        """Helper containers or pods an offline workspace left behind (must be none)."""

    def volume_files(self) -> list[str]:
        """The names in the data volume, read on this machine (also while the service is stopped)."""


def sql(service: DbService, query: str, path: str = DB_PATH) -> str:
    """The image's own sqlite3 on `path` inside the service."""
    return service.sh(f"sqlite3 -cmd '.timeout 5000' {path} \"{query}\"").strip()


def quick_check(service: DbService, path: str = DB_PATH) -> str:
    """What `PRAGMA quick_check` says about `path` in the service (an error message when it cannot read it)."""
    return service.sh(f"sqlite3 -cmd '.timeout 5000' {path} 'PRAGMA quick_check;' 2>&1; true").strip()


def max_id(service: DbService) -> int:
    return int(sql(service, "SELECT coalesce(max(id), 0) FROM events;") or 0)


def wait_rows(service: DbService, rows: int, timeout: float = 60) -> int:
    """Until the writer has written at least `rows` rows; the highest id."""
    deadline = time.monotonic() + timeout
    while (top := max_id(service)) < rows:
        assert time.monotonic() < deadline, f"the writer wrote {top} rows in {timeout}s, not {rows}"
        time.sleep(0.3)
    return top


def files_in_data(service: DbService) -> list[str]:
    return service.sh(f"ls -1 {DATA_DIR}").split()


def kept_files(service: DbService) -> list[str]:
    return sorted(f for f in files_in_data(service) if f.startswith("corrupted-") and f.endswith(".db"))


def stored(service: DbService) -> list[Path]:
    """The finished backups in the controller store (their data files, manifests beside them)."""
    return sorted(p for p in service.store.rglob("*.db.gz*") if p.with_name(_manifest_name(p)).exists())


def _manifest_name(data_file: Path) -> str:
    return data_file.name.split(".db.gz")[0] + ".json"


def backup(service: DbService, *args: str) -> dict[str, Any]:
    done = ajudaplay_run(service.inventory, "backup.yml", *args)
    assert done.rc == 0, done.text
    return done.data("Back up the database")


def restore(service: DbService, *args: str) -> Run:
    return ajudaplay_run(service.inventory, "restore.yml", "--yes", *args)


def corrupt(service: DbService) -> None:
    """Overwrite pages in the middle of the database file (b-tree pages the writer never rewrites),
    after a checkpoint put every page in the main file: PRAGMA integrity_check must fail."""
    sql(service, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000) "
                 "INSERT INTO events(at, host) SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), 'seed' FROM c; "
                 "PRAGMA wal_checkpoint(TRUNCATE);")
    service.sh(f"dd if=/dev/urandom of={DB_PATH} bs=4096 seek=3 count=40 conv=notrunc 2>/dev/null")
    said = quick_check(service)
    assert said != "ok", "the database still passes quick_check after overwriting 40 pages"


def no_key_in(run: Run) -> None:
    assert KEY not in run.text and WRONG_KEY not in run.text, "the backup key shows in the output"


# the scenarios ---------------------------------------------------------------------------------
def backup_under_write_load_then_restore(service: DbService) -> None:
    """Every row written before the backup is there after the restore, and the database passes integrity."""
    before = wait_rows(service, 20)
    made = backup(service)
    assert made["verified"] is True and made["encrypted"] is False, made
    assert made["sha256"] and made["name"].startswith("main-"), made
    assert [p.name for p in stored(service)] == [f"{made['name']}.db.gz"], list(service.store.rglob("*"))
    wait_rows(service, before + 30)  # the writer kept going during and after the backup
    live_before = service.identity()
    done = restore(service, "-e", f"backup={made['name']}")
    assert done.rc == 0, done.text
    restored = done.data("Restore the database")
    assert restored["backup"] == made["name"], restored
    service.wait_healthy()
    assert service.identity() != live_before, "the service was not stopped and started again"
    assert sql(service, "PRAGMA integrity_check;") == "ok"
    present = int(sql(service, f"SELECT count(*) FROM events WHERE id <= {before};"))
    assert present == before, f"{present} of the {before} rows written before the backup are there"
    assert len(kept_files(service)) == 1, files_in_data(service)  # the database it had, kept beside it
    assert not service.leftovers()
    wait_rows(service, max_id(service) + 5)  # and the service writes again


def corrupted_fails_check_and_recover_restores_newest(service: DbService) -> None:
    """db_check fails on overwritten pages; db-recover.yml restores the newest good backup, keeps the
    corrupted file, and the service is healthy again."""
    wait_rows(service, 10)
    older = backup(service)
    time.sleep(1.2)  # names and `created` have second precision
    newest = backup(service)
    rows_in_newest = max_id(service)
    corrupt(service)
    checked = ajudaplay_run(service.inventory, "db-check.yml")
    assert checked.rc != 0 and checked.status("Check the database") == "failed", checked.text
    assert checked.data("Check the database")["ok"] is False, checked.text
    recovered = ajudaplay_run(service.inventory, "db-recover.yml", "--yes")
    assert recovered.rc == 0, recovered.text
    assert recovered.data("Restore the newest backup")["backup"] == newest["name"] != older["name"]
    assert recovered.status("Check the restored database") == "ok", recovered.text
    service.wait_healthy()
    assert sql(service, "PRAGMA integrity_check;") == "ok"
    assert int(sql(service, f"SELECT count(*) FROM events WHERE id <= {rows_in_newest - 5};")) >= rows_in_newest - 5
    [kept] = kept_files(service)
    assert quick_check(service, f"{DATA_DIR}/{kept}") != "ok", "the kept file is not the corrupted one"
    assert not service.leftovers()


def point_in_time_picks_the_right_backup(service: DbService) -> None:
    """Among three backups, `before` restores the newest taken at or before it; too early a time fails
    with nothing changed; check mode names the backup and changes nothing."""
    wait_rows(service, 5)
    made = []
    for _ in range(3):
        made.append(backup(service))
        time.sleep(1.2)
    second = made[1]
    created = dt.datetime.strptime(second["created"], "%Y-%m-%dT%H:%M:%SZ")
    when = created.strftime("%Y-%m-%d %H:%M:%S")
    live = service.identity()
    would = restore(service, "-e", json.dumps({"before": when}), "--check")  # the runbook's form, with its space
    assert would.rc == 0, would.text
    assert second["name"] in would.text, would.text
    assert service.identity() == live and not kept_files(service), "check mode changed the service"
    early = (created - dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    refused = restore(service, "-e", f"before={early.replace(' ', 'T')}Z")  # ISO 8601 works too
    assert refused.rc != 0, refused.text
    assert service.identity() == live and not kept_files(service), "a refused restore changed the service"
    done = restore(service, "-e", json.dumps({"before": when}))
    assert done.rc == 0, done.text
    assert done.data("Restore the database")["backup"] == second["name"], done.text
    service.wait_healthy()


def encrypted_round_trip_and_wrong_key(service: DbService, with_key: Callable[[str], Path]) -> None:
    """An encrypted backup (.db.gz.enc) restores with the key; the wrong key is a clear error and
    nothing is changed. `with_key(key)` gives an inventory whose secret backup_key is `key`."""
    before = wait_rows(service, 10)
    made = backup(service, "-e", "encrypt=true")
    assert made["encrypted"] is True, made
    [stored_file] = stored(service)
    assert stored_file.name.endswith(".db.gz.enc"), stored_file
    assert b"SQLite format 3" not in stored_file.read_bytes()
    live = service.identity()
    wrong = ajudaplay_run(with_key(WRONG_KEY), "restore.yml", "--yes")
    assert wrong.rc != 0, wrong.text
    assert "does not decrypt" in wrong.text and made["name"] in wrong.text, wrong.text
    no_key_in(wrong)
    assert service.identity() == live and not kept_files(service), "a wrong key changed the service"
    done = ajudaplay_run(with_key(KEY), "restore.yml", "--yes")
    assert done.rc == 0, done.text
    no_key_in(done)
    service.wait_healthy()
    assert int(sql(service, f"SELECT count(*) FROM events WHERE id <= {before};")) == before


def tampered_backup_is_refused(service: DbService) -> None:
    """A stored backup whose checksum no longer matches its manifest is refused before anything changes."""
    wait_rows(service, 5)
    made = backup(service)
    [stored_file] = stored(service)
    data = bytearray(stored_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    stored_file.write_bytes(bytes(data))
    live = service.identity()
    done = restore(service, "-e", f"backup={made['name']}")
    assert done.rc != 0, done.text
    assert made["name"] in done.text and "sha256" in done.text.lower(), done.text
    assert service.identity() == live and not kept_files(service), "a tampered backup changed the service"


def grow(service: DbService, rows: int) -> None:
    """Add `rows` rows of 1 KB (a database big enough for a restore's file work to take a moment)."""
    sql(service, f"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {rows}) "
                 "INSERT INTO events(at, host) SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), "
                 "hex(randomblob(500)) FROM c; PRAGMA wal_checkpoint(TRUNCATE);")


def interrupted_restore_leaves_service_restartable(service: DbService) -> None:
    """Ctrl-C in the middle of a restore's file work (the live database already moved aside): ajudaplay
    puts it back, starts the service again with a database that passes integrity and holds every row,
    and leaves no helper and no temporary file behind."""
    grow(service, 40000)  # ~40 MB: the backup's transfer into the volume takes a while
    before = wait_rows(service, 10)
    backup(service)
    cmd = [AJUDAPLAY, "run", str(PLAYBOOKS / "restore.yml"), "-i", str(service.inventory), "--no-journal", "--yes"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            stdin=subprocess.DEVNULL, env=dict(os.environ, NO_COLOR="1"))
    try:
        deadline = time.monotonic() + 120
        while not [f for f in service.volume_files() if f.startswith("corrupted-")]:  # moved aside: file work
            assert proc.poll() is None, f"the restore ended before its file work:\n{proc.communicate()[0]}"
            assert time.monotonic() < deadline, "the restore never moved the live database aside"
            time.sleep(0.01)
        assert service.stopped()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0, out
    service.wait_healthy(timeout=120)
    assert sql(service, "PRAGMA integrity_check;") == "ok", out
    assert int(sql(service, f"SELECT count(*) FROM events WHERE id <= {before};")) == before, out
    assert not service.leftovers(), out
    assert not [f for f in files_in_data(service) if f.startswith(".ajudaplay-")], files_in_data(service)


def recover_check_mode_and_confirm(service: DbService) -> None:
    """db-recover.yml --check on a corrupted database names the backup it would restore and changes
    nothing; without --yes and without a terminal it fails before stopping the service."""
    wait_rows(service, 10)
    made = backup(service)
    corrupt(service)
    live = service.identity()
    would = ajudaplay_run(service.inventory, "db-recover.yml", "--check")
    assert would.rc == 0, would.text
    assert would.data("Restore the newest backup")["backup"] == made["name"], would.text
    assert service.identity() == live and not kept_files(service), "check mode changed the service"
    unasked = ajudaplay_run(service.inventory, "db-recover.yml")
    assert unasked.rc != 0 and unasked.status("Restore the newest backup") == "failed", unasked.text
    assert service.identity() == live and not kept_files(service), "an unconfirmed restore changed the service"
    assert quick_check(service) != "ok"  # still the corrupted one: nothing was done
