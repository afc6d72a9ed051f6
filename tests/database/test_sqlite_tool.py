"""The SQL tool inside the service (ajudaplay/database/sqlite.py), over the fake target's workspace.

The fake's workspace is the controller itself (targets/fake_workspace.py): real
`sh`, Debian's `sqlite3`, `python3`, and real SQLite files in tmp_path, so
what is tested here is what runs inside a container. `hide_tools` takes
programs off the workspace's PATH, as an image without them would.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ajudaplay.database.sqlite import NoSqlTool, SqlTool, check_local_file
from ajudaplay.targets.fake_workspace import LocalWorkspace, ToolHider
from ajudaplay.targets.workspace import FileMissing

TOOLS = ["sqlite3", "python3"]


def make_db(path: Path, rows: int = 2000) -> Path:
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, at TEXT, pad TEXT)")
    con.execute("CREATE INDEX t_at ON t(at)")
    con.executemany("INSERT INTO t (at, pad) VALUES (?, ?)", [(f"{i:08d}", "x" * 200) for i in range(rows)])
    con.commit()
    con.close()
    return path


def corrupt(path: Path) -> None:
    """Overwrite pages past the first (the header survives: SQLite opens it and finds the damage)."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    with open(path, "r+b") as handle:
        for page in (3, 5, 8):
            handle.seek(page * 4096)
            handle.write(b"\xa5" * 4096)


def damage_index(path: Path) -> None:
    """Change key digits in the index's first leaf page: the file stays readable, integrity_check lists rows."""
    sqlite3.connect(path).execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    data = bytearray(path.read_bytes())
    leaf = next(page for page in range(2, len(data) // 4096 + 1) if data[(page - 1) * 4096] == 0x0A)
    start = (leaf - 1) * 4096
    digits = [i for i in range(start + 2000, start + 4096) if 0x30 <= data[i] <= 0x39][:3]
    for i in digits:
        data[i] = 0x30 + (data[i] - 0x30 + 5) % 10
    path.write_bytes(bytes(data))


def workspace(hidden: set[str] | None = None) -> LocalWorkspace:
    return LocalWorkspace("fake container api-1", threading.Event(), ToolHider(hidden or set()))


def tool(program: str) -> SqlTool:
    other = {"sqlite3"} if program == "python3" else set()
    found = SqlTool.detect(workspace(other), "api")
    assert found.program == program
    return found


@pytest.mark.parametrize("program", TOOLS)
def test_a_good_database_checks_ok(tmp_path: Path, program: str) -> None:
    db = make_db(tmp_path / "app.db")
    for quick in (False, True):
        check = tool(program).check(str(db), quick)
        assert (check.ok, check.messages) == (True, ["ok"])


@pytest.mark.parametrize("program", TOOLS)
def test_overwritten_pages_fail_the_check_with_sqlites_messages(tmp_path: Path, program: str) -> None:
    db = make_db(tmp_path / "app.db")
    corrupt(db)
    check = tool(program).check(str(db))
    assert not check.ok
    assert check.messages and check.messages != ["ok"]
    assert any("malformed" in m or "Tree" in m or "page" in m or "corrupt" in m for m in check.messages), check.messages


@pytest.mark.parametrize("program", TOOLS)
def test_a_damaged_index_is_listed_row_by_row_and_quick_check_does_not_look(tmp_path: Path, program: str) -> None:
    db = make_db(tmp_path / "app.db")
    damage_index(db)
    check = tool(program).check(str(db))
    assert not check.ok
    assert check.messages[0].endswith("missing from index t_at") and len(check.messages) > 1, check.messages
    assert tool(program).check(str(db), quick=True).ok  # quick_check skips index contents (SQLite's documentation)


@pytest.mark.parametrize("program", TOOLS)
def test_a_file_that_is_not_a_database_is_not_ok(tmp_path: Path, program: str) -> None:
    junk = tmp_path / "app.db"
    junk.write_bytes(b"this is not a database" * 500)
    check = tool(program).check(str(junk))
    assert not check.ok
    assert any("not a database" in m for m in check.messages), check.messages


@pytest.mark.parametrize("program", TOOLS)
def test_a_missing_database_is_said_and_never_created(tmp_path: Path, program: str) -> None:
    missing = tmp_path / "nope.db"
    with pytest.raises(FileMissing, match="does not exist in fake container api-1"):
        tool(program).check(str(missing))
    with pytest.raises(FileMissing):
        tool(program).snapshot(str(missing))
    assert not missing.exists()


def test_without_sqlite3_and_python3_the_error_says_what_is_needed(tmp_path: Path) -> None:
    with pytest.raises(NoSqlTool, match=r"service api has neither sqlite3 nor python3 in its image "
                                        r"\(fake container api-1\): db_check, backup and restore need one of them"):
        SqlTool.detect(workspace({"sqlite3", "python3"}), "api")


@pytest.mark.parametrize("program", TOOLS)
def test_a_path_with_quotes_and_spaces_is_data(tmp_path: Path, program: str) -> None:
    folder = tmp_path / "it's a $(touch pwned) dir"
    folder.mkdir()
    db = make_db(folder / "a b'; DROP TABLE t; --.db", rows=10)
    sql = tool(program)
    assert sql.check(str(db)).ok
    snap = Path(sql.snapshot(str(db)))
    assert snap.parent == folder and snap.name.startswith(".ajudaplay-snapshot-")
    assert sqlite3.connect(snap).execute("SELECT count(*) FROM t").fetchone() == (10,)
    sql.remove(str(snap))
    assert not snap.exists() and not (tmp_path / "pwned").exists() and not Path("pwned").exists()


WRITER = """
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], timeout=5, isolation_level=None)
while True:
    con.execute("INSERT INTO t (at, pad) VALUES (?, ?)", ("%.6f" % time.time(), "y" * 200))
    time.sleep(0.001)
"""


def rows(db: Path) -> int:
    con = sqlite3.connect(db, timeout=5)
    try:
        return int(con.execute("SELECT count(*) FROM t").fetchone()[0])
    finally:
        con.close()


@pytest.mark.parametrize("program", TOOLS)
def test_the_snapshot_is_consistent_while_a_writer_keeps_writing(tmp_path: Path, program: str) -> None:
    """The service's writer is another process, as in a container; it never stops while the snapshot runs."""
    db = make_db(tmp_path / "app.db", rows=20000)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db)])
    try:
        while rows(db) < 20100:
            time.sleep(0.02)
        before = rows(db)
        snap = Path(tool(program).snapshot(str(db)))
        after = rows(db)
        time.sleep(0.2)
        assert writer.poll() is None  # still writing
    finally:
        writer.kill()
        writer.wait()
    assert check_local_file(snap).ok
    count = sqlite3.connect(snap).execute("SELECT count(*) FROM t").fetchone()[0]
    assert before <= count <= after  # every row committed before the snapshot, none from after it
    assert rows(db) > count  # the writer went on


def test_the_controller_check_reads_without_writing(tmp_path: Path) -> None:
    db = make_db(tmp_path / "app.db")
    sqlite3.connect(db).execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    before = db.read_bytes()
    assert check_local_file(db).ok
    assert db.read_bytes() == before
    corrupt(db)
    assert not check_local_file(db).ok
    assert not check_local_file(tmp_path / "missing.db").ok
    assert not (tmp_path / "missing.db").exists()
