"""db_check, backup, restore and backups as playbook steps, on the fake target with real SQLite files.

Playbooks and inventories go through the real loaders, the shipped action
registry and the engine; the fake target's ServiceData runs real `sh`,
`sqlite3`, `mv` and `sha256sum` on the controller (targets/fake_workspace.py),
and the backups go to a real controller-folder store in tmp_path. What is
checked is on disk: the database's bytes and rows, the kept corrupted copy,
the store's files.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from ajudaplay.actions.base import default_registry
from ajudaplay.database import procedures
from ajudaplay.exitcodes import ExitCode
from ajudaplay.targets.fake import FakeTarget
from tests.database.test_sqlite_tool import corrupt, make_db
from tests.engine.conftest import Harness

KEY = "correct horse battery staple"


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return Harness(tmp_path, registry=default_registry())


@pytest.fixture
def db(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    return make_db(data / "app.db", rows=500)


def inventory(db: Path, store: Path, **fake: Any) -> str:
    return (f"backup_store: {{type: controller, path: {store}}}\n"
            f"vars: {{backup_key: {json.dumps(KEY)}}}\n"
            "secrets: {vars: [backup_key]}\n"
            "targets:\n"
            f"  t1:\n    fake: {json.dumps(fake)}\n"
            f"    services: {{api: {{database: {{path: {db}}}}}}}\n")


def play(*tasks: str) -> str:
    return "- hosts: all\n  tasks:\n" + "".join(f"    - {t}\n" for t in tasks)


def data_of(h: Harness, task: str) -> dict[str, Any]:
    return dict(result_of(h, task).result.data)


def result_of(h: Harness, task: str, target: str = "t1") -> Any:
    (result,) = h.collector.results(task, target)
    return result


def rows(path: Path) -> int:
    con = sqlite3.connect(path)
    try:
        return int(con.execute("SELECT count(*) FROM t").fetchone()[0])
    finally:
        con.close()


def add_rows(path: Path, n: int) -> None:
    con = sqlite3.connect(path)
    con.executemany("INSERT INTO t (at, pad) VALUES (?, ?)", [("later", "z")] * n)
    con.commit()
    con.close()


def settle(path: Path) -> bytes:
    """Checkpoint the WAL so the file's bytes are the database (to compare before/after)."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return path.read_bytes()


def fake(h: Harness) -> FakeTarget:
    return h.targets["t1"]


# db_check -------------------------------------------------------------------------------------------------
def test_db_check_registers_ok_and_a_corrupted_database_fails_the_step(h: Harness, db: Path, tmp_path: Path) -> None:
    inv = inventory(db, tmp_path / "store")
    summary = h.run(play("{name: check, db_check: {service: api}, register: c}",
                        "{name: show, debug: {msg: \"{{ c.ok }} {{ c.messages }}\"}}"), inv)
    assert summary.exit_code == ExitCode.OK
    assert data_of(h, "check") | {"where": None} == {"ok": True, "messages": ["ok"], "quick": False, "service": "api",
                                                    "database": "main", "path": str(db), "where": None}
    corrupt(db)
    summary = h.run(play("{name: check, db_check: {service: api, quick: true}}"), inv)
    assert summary.exit_code == ExitCode.FAILED
    found = result_of(h, "check")
    assert found.status == "failed" and found.result.data["ok"] is False and found.result.data["quick"] is True
    assert "quick_check found problems" in found.result.msg


def test_a_service_without_a_database_gets_the_inventory_key_to_add(h: Harness, tmp_path: Path) -> None:
    inv = "targets:\n  cluster:\n    fake: {}\n    services: {api: {}}\n"
    h.run(play("{name: check, db_check: {service: api}}"), inv)
    assert result_of(h, "check", "cluster").result.msg == (
        "target 'cluster': service 'api' has no database in the inventory "
        "(add services.api.database: {path: /app/data/app.db} under targets.cluster)")


def test_an_image_without_sqlite3_and_python3_is_a_clear_error(h: Harness, db: Path, tmp_path: Path) -> None:
    h.run(play("{name: check, db_check: {service: api}}"),
          inventory(db, tmp_path / "store", hide_tools=["sqlite3", "python3"]))
    assert "service api has neither sqlite3 nor python3 in its image" in result_of(h, "check").result.msg


# backup ---------------------------------------------------------------------------------------------------
def test_backup_keeps_a_verified_gzip_with_its_manifest_and_registers_it(h: Harness, db: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    summary = h.run(play("{name: b, backup: {service: api}, register: b}"), inventory(db, store))
    assert summary.exit_code == ExitCode.OK, h.collector.results()
    data = data_of(h, "b")
    folder = store / "test" / "t1" / "api" / "main"
    packed, manifest = folder / f"{data['name']}.db.gz", folder / f"{data['name']}.json"
    plain = gzip.decompress(packed.read_bytes())
    assert hashlib.sha256(plain).hexdigest() == data["sha256"] and len(plain) == data["size"]
    assert hashlib.sha256(packed.read_bytes()).hexdigest() == data["stored_sha256"]
    assert json.loads(manifest.read_text())["sha256"] == data["sha256"]
    assert data["verified"] is True and data["encrypted"] is False and data["store"] == f"controller folder {store}"
    assert data["name"].startswith("main-") and data["run_id"] == summary.run_id
    assert (packed.stat().st_mode & 0o777) == 0o600
    restored = tmp_path / "plain.db"
    restored.write_bytes(plain)
    assert rows(restored) == 500
    assert not list(db.parent.glob(".ajudaplay-*"))  # the snapshot was removed in the service


def test_a_corrupted_database_is_not_kept_as_a_backup(h: Harness, db: Path, tmp_path: Path) -> None:
    corrupt(db)
    store = tmp_path / "store"
    summary = h.run(play("{name: b, backup: {service: api}}"), inventory(db, store))
    assert summary.exit_code == ExitCode.FAILED
    msg = result_of(h, "b").result.msg
    assert "nothing was kept" in msg
    assert not list(store.rglob("*.json")) and not list(store.rglob("*.gz"))
    assert not list(db.parent.glob(".ajudaplay-*"))


def test_backup_in_check_mode_changes_nothing(h: Harness, db: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    summary = h.run(play("{name: b, backup: {service: api}}"), inventory(db, store), check=True)
    assert summary.exit_code == ExitCode.OK
    assert "would back up" in result_of(h, "b").result.msg
    assert not store.exists() or not list(store.rglob("*.json"))
    assert "live_workspace" not in fake(h).methods()


def test_retention_deletes_only_what_a_newer_verified_backup_supersedes(h: Harness, db: Path, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "store"
    names = []
    for hour in range(1, 5):
        monkeypatch.setattr(procedures, "_now", lambda hour=hour: datetime(2026, 1, 1, hour, tzinfo=timezone.utc))
        h.run(play("{name: b, backup: {service: api, keep_last: 2}}"), inventory(db, store))
        names.append(data_of(h, "b")["name"])
    left = sorted(p.stem for p in store.rglob("*.json"))
    assert left == sorted(names[-2:])
    assert data_of(h, "b")["deleted"] == [names[1]]


# restore --------------------------------------------------------------------------------------------------
def backup_now(h: Harness, inv: str, extra: str = "") -> str:
    summary = h.run(play(f"{{name: b, backup: {{service: api{extra}}}}}"), inv)
    assert summary.exit_code == ExitCode.OK, result_of(h, "b").result.msg
    return str(data_of(h, "b")["name"])


def test_restore_keeps_the_corrupted_file_and_brings_back_the_backup(h: Harness, db: Path, tmp_path: Path) -> None:
    inv = inventory(db, tmp_path / "store")
    name = backup_now(h, inv)
    add_rows(db, 7)
    corrupt(db)
    damaged = db.read_bytes()
    summary = h.run(play("{name: r, restore: {service: api}, register: r}", "{name: c, db_check: {service: api}}"),
                    inv, assume_yes=True)
    assert summary.exit_code == ExitCode.OK, result_of(h, "r").result.msg
    data = data_of(h, "r")
    assert data["backup"] == name and data["confirmed_by"].endswith("(--yes)")
    kept = Path(data["kept"])
    assert kept.parent == db.parent and kept.name.startswith("corrupted-") and kept.read_bytes() == damaged
    assert data["before_sha256"] == hashlib.sha256(damaged).hexdigest()
    assert rows(db) == 500 and data_of(h, "c")["ok"] is True
    assert hashlib.sha256(db.read_bytes()).hexdigest() == data["after_sha256"]
    assert set(data["timings"]) == {"verify", "stopped", "total"}
    calls = fake(h).methods()
    assert calls.index("offline") < calls.index("online")  # stopped, then started again
    assert fake(h)._services["api"].replicas == 1
    assert not list(db.parent.glob(".ajudaplay-*"))


def test_a_failure_mid_restore_puts_the_old_file_back(h: Harness, db: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    backup_now(h, inventory(db, store))
    add_rows(db, 3)
    before = settle(db)
    summary = h.run(play("{name: r, restore: {service: api}}"), inventory(db, store, fail_on=["write_from"]),
                    assume_yes=True)
    assert summary.exit_code == ExitCode.FAILED
    msg = result_of(h, "r").result.msg
    assert "the database it had is back in place" in msg and "stream broke" in msg
    assert db.read_bytes() == before and rows(db) == 503
    assert not list(db.parent.glob("corrupted-*")) and not list(db.parent.glob(".ajudaplay-*"))
    assert "online" in fake(h).methods()
    assert fake(h)._services["api"].replicas == 1


def test_damaged_bytes_landing_in_the_service_are_refused_and_undone(h: Harness, db: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    backup_now(h, inventory(db, store))
    before = settle(db)
    summary = h.run(play("{name: r, restore: {service: api}}"), inventory(db, store, corrupt_writes=True),
                    assume_yes=True)
    assert summary.exit_code == ExitCode.FAILED
    assert "back in place" in result_of(h, "r").result.msg
    assert db.read_bytes() == before


def test_restore_in_check_mode_says_which_backup_and_never_stops_the_service(h: Harness, db: Path,
                                                                            tmp_path: Path) -> None:
    inv = inventory(db, tmp_path / "store")
    name = backup_now(h, inv)
    before = settle(db)
    summary = h.run(play("{name: r, restore: {service: api}}"), inv, check=True)
    assert summary.exit_code == ExitCode.OK
    assert name in result_of(h, "r").result.msg and "would stop api" in result_of(h, "r").result.msg
    assert "offline" not in fake(h).methods()
    assert db.read_bytes() == before and not list(db.parent.glob("corrupted-*"))


def test_confirm_without_a_terminal_fails_with_nothing_changed(h: Harness, db: Path, tmp_path: Path) -> None:
    inv = inventory(db, tmp_path / "store")
    backup_now(h, inv)
    before = settle(db)
    summary = h.run(play("{name: r, restore: {service: api}}"), inv)  # no --yes, and pytest's stdin is no terminal
    assert summary.exit_code == ExitCode.FAILED
    assert "there is no terminal to ask on" in result_of(h, "r").result.msg
    assert "offline" not in fake(h).methods()
    assert db.read_bytes() == before
    summary = h.run(play("{name: r, restore: {service: api, confirm: false}}"), inv)
    assert summary.exit_code == ExitCode.OK and data_of(h, "r")["confirmed_by"] is None


def test_point_in_time_picks_the_newest_backup_at_or_before(h: Harness, db: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    inv = inventory(db, tmp_path / "store")
    taken = {}
    for hour in (9, 10, 11):
        monkeypatch.setattr(procedures, "_now", lambda hour=hour: datetime(2024, 1, 1, hour, tzinfo=timezone.utc))
        add_rows(db, 10)
        taken[hour] = (backup_now(h, inv), rows(db))
    monkeypatch.undo()
    for before, hour in (("2024-01-01 10:00:00", 10), ("2024-01-01 10:59:59", 10), ("2024-01-01T11:30:00Z", 11),
                         ("2024-01-01T10:30:00+01:00", 9)):
        h.run(play(f"{{name: r, restore: {{service: api, before: \"{before}\", confirm: false}}}}"), inv)
        assert data_of(h, "r")["backup"] == taken[hour][0], before
        assert rows(db) == taken[hour][1]
    h.run(play("{name: r, restore: {service: api, before: \"2024-01-01 08:00:00\", confirm: false}}"), inv)
    assert "there is none" in result_of(h, "r").result.msg
    h.run(play(f"{{name: r, restore: {{service: api, backup: {taken[9][0]}, confirm: false}}}}"), inv)
    assert rows(db) == taken[9][1]
    h.run(play("{name: l, backups: {service: api}, register: l}"), inv)
    listed = data_of(h, "l")
    assert [b["name"] for b in listed["backups"]] == [taken[h_][0] for h_ in (11, 10, 9)] and listed["count"] == 3
    assert all(b["age_seconds"] > 0 for b in listed["backups"])


def test_encrypted_round_trip_and_a_wrong_key_changes_nothing(h: Harness, db: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    inv = inventory(db, store)
    name = backup_now(h, inv, ", encrypt: true, key: \"{{ backup_key }}\"")
    packed = next(store.rglob("*.db.gz.enc"))
    assert packed.read_bytes().startswith(b"AJDB1\n") and data_of(h, "b")["encrypted"] is True
    add_rows(db, 5)
    before = settle(db)
    h.run(play("{name: r, restore: {service: api, key: wrong-key, confirm: false}}"), inv)
    msg = result_of(h, "r").result.msg
    assert msg == f"the key does not decrypt backup {name} (wrong key, or the file was altered); nothing was changed"
    assert "offline" not in fake(h).methods() and db.read_bytes() == before
    h.run(play("{name: r, restore: {service: api, confirm: false}}"), inv)
    assert "is encrypted: give its key" in result_of(h, "r").result.msg
    summary = h.run(play("{name: r, restore: {service: api, key: \"{{ backup_key }}\", confirm: false}}"), inv)
    assert summary.exit_code == ExitCode.OK and rows(db) == 500
    shown = json.dumps([(r.result.msg, r.result.data) for r in h.collector.results()], default=str)
    assert KEY not in shown


def test_a_backup_whose_checksum_no_longer_matches_is_refused(h: Harness, db: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    inv = inventory(db, store)
    backup_now(h, inv)
    packed = next(store.rglob("*.db.gz"))
    raw = bytearray(packed.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # mid-stream: gunzip would fail first; the stored checksum is what is said
    packed.write_bytes(bytes(raw))
    before = settle(db)
    h.run(play("{name: r, restore: {service: api, confirm: false}}"), inv)
    msg = result_of(h, "r").result.msg
    assert "altered or damaged in the store" in msg and "nothing was changed" in msg, msg
    assert "offline" not in fake(h).methods() and db.read_bytes() == before


def test_ctrl_c_while_the_backup_streams_in_still_puts_the_old_file_back(db: Path, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The step's cancel is set mid-write; the workspace's own cancel is lifted while the old file goes back."""
    from ajudaplay.database.locate import database_of
    from ajudaplay.database.stores import open_store
    from ajudaplay.errors import Interrupted
    from ajudaplay.inventory.loader import load_inventory
    from ajudaplay.targets.base import StepContext
    from ajudaplay.targets.fake_workspace import LocalWorkspace

    inv_path = tmp_path / "inventory" / "test.yml"
    inv_path.parent.mkdir()
    inv_path.write_text(inventory(db, tmp_path / "store"))
    spec = load_inventory(inv_path).targets["t1"]
    target = FakeTarget(spec)
    store = open_store(spec.backup_store, inventory_dir=inv_path.parent, host=None)
    place = procedures.Place("test", "t1", database_of(spec, "api", None))
    procedures.backup(StepContext(run_id="r1"), target, place, store, passphrase=None, keep_last=None, keep_days=None)
    add_rows(db, 3)
    before = settle(db)
    step = StepContext(run_id="r2")
    real_write = LocalWorkspace.write_from

    def interrupted_write(self: LocalWorkspace, source: Any, size: int, path: str) -> str:
        real_write(self, source, size, path)
        step.cancel.set()  # Ctrl-C
        if self.cancel.wait(2):
            raise Interrupted("interrupted")
        raise AssertionError("the workspace never saw the step's cancel")

    monkeypatch.setattr(LocalWorkspace, "write_from", interrupted_write)
    with pytest.raises(Interrupted, match="the database it had is back in place"):
        procedures.restore(step, target, place, store, procedures.Choice(), passphrase=None, confirm=False)
    assert db.read_bytes() == before and rows(db) == 503
    assert not list(db.parent.glob("corrupted-*")) and not list(db.parent.glob(".ajudaplay-*"))
    assert target._services["api"].replicas == 1 and target.methods()[-1] == "online"


def test_a_backup_that_unpacks_to_other_bytes_or_a_damaged_database_is_refused(h: Harness, db: Path,
                                                                              tmp_path: Path) -> None:
    """The stored object and its manifest agree (rewritten together), but what it unpacks to does not."""
    from ajudaplay.database.archive import pack

    store = tmp_path / "store"
    inv = inventory(db, store)
    backup_now(h, inv)
    manifest_path = next(store.rglob("*.json"))
    packed = next(store.rglob("*.db.gz"))
    before = settle(db)

    def rewrite(content: Path, **fields: Any) -> None:
        size, sha = pack(content, tmp_path / "repacked", None)
        packed.write_bytes((tmp_path / "repacked").read_bytes())
        (tmp_path / "repacked").unlink()
        manifest = json.loads(manifest_path.read_text())
        manifest.update(stored_size=size, stored_sha256=sha, **fields)
        manifest_path.write_text(json.dumps(manifest))

    other = make_db(tmp_path / "other.db", rows=3)
    settle(other)
    rewrite(other)  # same manifest sha256/size as before: the unpacked bytes differ
    h.run(play("{name: r, restore: {service: api, confirm: false}}"), inv)
    assert "unpacks to" in result_of(h, "r").result.msg and "nothing was changed" in result_of(h, "r").result.msg
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(settle(make_db(tmp_path / "d.db", rows=3000)))
    corrupt(damaged)
    rewrite(damaged, size=damaged.stat().st_size, sha256=hashlib.sha256(damaged.read_bytes()).hexdigest())
    h.run(play("{name: r, restore: {service: api, confirm: false}}"), inv)
    assert "fails integrity_check" in result_of(h, "r").result.msg
    assert "offline" not in fake(h).methods() and db.read_bytes() == before


def test_the_restored_file_gets_the_replaced_ones_mode(h: Harness, db: Path, tmp_path: Path) -> None:
    inv = inventory(db, tmp_path / "store")
    backup_now(h, inv)
    db.chmod(0o640)
    summary = h.run(play("{name: r, restore: {service: api, confirm: false}}"), inv)
    assert summary.exit_code == ExitCode.OK
    assert (db.stat().st_mode & 0o777) == 0o640


def test_ctrl_c_while_the_snapshot_streams_out_removes_it_in_the_service(db: Path, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from ajudaplay.database.locate import database_of
    from ajudaplay.database.stores import open_store
    from ajudaplay.errors import Interrupted
    from ajudaplay.inventory.loader import load_inventory
    from ajudaplay.targets.base import StepContext
    from ajudaplay.targets.fake_workspace import LocalWorkspace

    inv_path = tmp_path / "inventory" / "test.yml"
    inv_path.parent.mkdir()
    inv_path.write_text(inventory(db, tmp_path / "store"))
    spec = load_inventory(inv_path).targets["t1"]
    target = FakeTarget(spec)
    store = open_store(spec.backup_store, inventory_dir=inv_path.parent, host=None)
    place = procedures.Place("test", "t1", database_of(spec, "api", None))
    step = StepContext(run_id="r1")

    def interrupted_read(self: LocalWorkspace, path: str, sink: Any) -> str:
        assert Path(path).exists()  # the snapshot is there while it streams
        step.cancel.set()  # Ctrl-C
        if self.cancel.wait(2):
            raise Interrupted("interrupted")
        raise AssertionError("the workspace never saw the step's cancel")

    monkeypatch.setattr(LocalWorkspace, "read_to", interrupted_read)
    with pytest.raises(Interrupted):
        procedures.backup(step, target, place, store, passphrase=None, keep_last=None, keep_days=None)
    assert not list(db.parent.glob(".ajudaplay-*"))
    assert not list((tmp_path / "store").rglob("*.json")) and not list((tmp_path / "store").rglob("*.gz"))


def test_backup_and_restore_say_how_far_their_copies_got(db: Path, tmp_path: Path) -> None:
    """Each long copy (snapshot out, backup fetched, file written in) reports progress: the console's live
    line and JSON `progress` events are made from these calls (engine/progress.py)."""
    from ajudaplay.database.locate import database_of
    from ajudaplay.database.stores import open_store
    from ajudaplay.inventory.loader import load_inventory
    from ajudaplay.targets.base import StepContext

    inv_path = tmp_path / "inventory" / "test.yml"
    inv_path.parent.mkdir()
    inv_path.write_text(inventory(db, tmp_path / "store"))
    spec = load_inventory(inv_path).targets["t1"]
    target = FakeTarget(spec)
    store = open_store(spec.backup_store, inventory_dir=inv_path.parent, host=None)
    place = procedures.Place("test", "t1", database_of(spec, "api", None))
    said: list[str] = []
    step = StepContext(run_id="r1", progress=said.append)
    done = procedures.backup(step, target, place, store, passphrase=None, keep_last=None, keep_days=None)
    assert any(s.startswith("copying the snapshot of api/main to the controller: ") for s in said), said
    said.clear()
    procedures.restore(StepContext(run_id="r2", progress=said.append), target, place, store, procedures.Choice(),
                       passphrase=None, confirm=False)
    assert any(s.startswith(f"fetching and verifying {done.name}: ") for s in said), said
    assert any(s.startswith(f"writing {done.name} into ") and " MB" in s for s in said), said
