"""The SQL tool inside the service: integrity checks and consistent snapshots over a Workspace.

The database is only ever read or copied by SQLite itself, inside the
container that owns it, never by copying the live file (a copy taken while
the service writes can be torn). The tool is the image's `sqlite3` when it
has one, else `python3` with its sqlite3 module; an image with neither gets a
clear error (db_check, backup and restore need one of them).

Every path reaches the container as an argument (`sh -c SCRIPT sh PATH`), never
spliced into a shell line; inside SQL it is a quoted literal (sqlite3) or a
bound parameter (python3). What the container answers is data: it is parsed
into messages, never run or rendered.

The controller-side check (`check_local_file`) uses Python's own sqlite3 on
a verified copy: the same PRAGMA, the same parsing.
"""

from __future__ import annotations

import posixpath
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ajudaplay.errors import TargetError
from ajudaplay.targets.workspace import FileMissing

if TYPE_CHECKING:
    from ajudaplay.targets.workspace import Ran, Workspace

__all__ = ["Check", "NoSqlTool", "SqlTool", "check_local_file", "parse_check", "snapshot_name"]

BUSY_MS = 5000  # how long a statement waits for the service's write lock before "database is locked"
SNAPSHOT_PREFIX = ".ajudaplay-snapshot-"
_MISSING = 3  # exit status our scripts use for "no such database file"

# `sh -c` scripts: $1 the database, $2.. the rest. They refuse a missing file first, because
# both sqlite3 and python3's connect() would otherwise create an empty database there.
# $2: one SQL statement (sqlite3), or the pragma / the destination (python3)
_SQLITE3 = (
    '[ -f "$1" ] || { echo "no such file: $1" >&2; exit 3; }; '
    'exec sqlite3 -bail -cmd ".timeout $3" "$1" "$2"'
)
_PY_PRAGMA = r"""
import sqlite3, sys, os
path, pragma, busy = sys.argv[1], sys.argv[2], int(sys.argv[3])
if not os.path.isfile(path):
    sys.stderr.write("no such file: %s\n" % path); sys.exit(3)
try:
    con = sqlite3.connect(path, timeout=busy / 1000.0)
    for row in con.execute("PRAGMA " + pragma):
        print(row[0])
except sqlite3.Error as exc:
    sys.stderr.write("Error: %s\n" % exc); sys.exit(1)
"""
_PY_VACUUM = r"""
import sqlite3, sys, os
path, dest, busy = sys.argv[1], sys.argv[2], int(sys.argv[3])
if not os.path.isfile(path):
    sys.stderr.write("no such file: %s\n" % path); sys.exit(3)
try:
    con = sqlite3.connect(path, timeout=busy / 1000.0, isolation_level=None)
    con.execute("VACUUM INTO ?", (dest,))
except sqlite3.Error as exc:
    sys.stderr.write("Error: %s\n" % exc); sys.exit(1)
"""
_DETECT = "command -v sqlite3 || true; command -v python3 || true"


class NoSqlTool(TargetError):
    """The service's image has neither sqlite3 nor python3."""


@dataclass(frozen=True)
class Check:
    """What `PRAGMA integrity_check` (or quick_check) said: ok only when its one line is "ok"."""

    ok: bool
    messages: list[str]


def parse_check(lines: list[str]) -> Check:
    """SQLite answers exactly one row "ok", or up to 100 rows describing problems."""
    messages = [line.strip() for line in lines if line.strip()]
    return Check(ok=messages == ["ok"], messages=messages or ["no answer from the integrity check"])


def snapshot_name(db_path: str, kind: str = "snapshot") -> str:
    """A fresh hidden name beside the database (same folder: same volume, so `mv` is a rename)."""
    prefix = SNAPSHOT_PREFIX if kind == "snapshot" else f".ajudaplay-{kind}-"
    return posixpath.join(posixpath.dirname(db_path) or "/", f"{prefix}{uuid.uuid4().hex}.db")


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class SqlTool:
    """sqlite3 or python3 in one workspace; `detect` picks the one the image has."""

    def __init__(self, workspace: Workspace, program: str, service: str, timeout: float | None) -> None:
        self.workspace = workspace
        self.program = program  # "sqlite3" or "python3"
        self.service = service
        self.timeout = timeout

    @classmethod
    def detect(cls, workspace: Workspace, service: str, timeout: float | None = None) -> SqlTool:
        ran = workspace.run(["sh", "-c", _DETECT], timeout=timeout)
        found = [posixpath.basename(line.strip()) for line in ran.stdout.decode("utf-8", "replace").splitlines()]
        for program in ("sqlite3", "python3"):
            if program in found:
                return cls(workspace, program, service, timeout)
        raise NoSqlTool(f"service {service} has neither sqlite3 nor python3 in its image ({workspace.where}): "
                        "db_check, backup and restore need one of them (add the sqlite3 package to the image)")

    def _run(self, path: str, statement: str, python_script: str, python_arg: str) -> Ran:
        if self.program == "sqlite3":
            argv = ["sh", "-c", _SQLITE3, "sh", path, statement, str(BUSY_MS)]
        else:
            argv = ["python3", "-c", python_script, path, python_arg, str(BUSY_MS)]
        return self.workspace.run(argv, timeout=self.timeout)

    def _missing(self, ran: Ran, path: str) -> None:
        if ran.rc == _MISSING:
            raise FileMissing(f"the database {path} does not exist in {self.workspace.where} "
                              "(check services.<service>.database.path in the inventory)")

    def check(self, path: str, quick: bool = False) -> Check:
        """integrity_check (or quick_check) of the database at `path`; a file SQLite cannot open is not ok."""
        pragma = "quick_check" if quick else "integrity_check"
        ran = self._run(path, f"PRAGMA {pragma};", _PY_PRAGMA, pragma)
        self._missing(ran, path)
        lines = ran.stdout.decode("utf-8", "replace").splitlines()
        if ran.ok:
            return parse_check(lines)
        errors = [ln for ln in (lines + ran.stderr.decode("utf-8", "replace").splitlines()) if ln.strip()]
        if any("locked" in line or "busy" in line for line in errors):
            raise TargetError(f"{pragma} of {path} in {self.workspace.where}: the database stayed locked for "
                              f"{BUSY_MS // 1000} s ({'; '.join(errors)}); try again")
        return Check(ok=False, messages=[ln.strip() for ln in errors] or [f"{self.program} exited with {ran.rc}"])

    def snapshot(self, path: str) -> str:
        """`VACUUM INTO` a fresh file beside the database: one read transaction, so the copy is
        consistent while the service keeps writing. Returns the snapshot's path; the caller removes it."""
        dest = snapshot_name(path)
        ran = self._run(path, f"VACUUM INTO {_sql_literal(dest)};", _PY_VACUUM, dest)
        self._missing(ran, path)
        if not ran.ok:
            self.remove(dest)
            raise TargetError(f"the snapshot of {path} (VACUUM INTO) failed in {self.workspace.where}: "
                              f"{ran.text().strip() or f'exit status {ran.rc}'}; nothing was kept"
                              + (" (the database is damaged: see db_check, and restore a good backup)"
                                 if "malformed" in ran.text() else ""))
        return dest

    def remove(self, path: str) -> None:
        """Remove a file of ours (a snapshot, a temporary restore file); a missing one is fine."""
        self.workspace.run(["rm", "-f", "--", path], timeout=self.timeout)


def check_local_file(path: Path, quick: bool = False) -> Check:
    """The same check on the controller, with Python's sqlite3, read-only (the file is a private copy)."""
    pragma = "quick_check" if quick else "integrity_check"
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            rows = [str(row[0]) for row in con.execute(f"PRAGMA {pragma}")]
        finally:
            con.close()
    except sqlite3.Error as exc:
        return Check(ok=False, messages=[f"Error: {exc}"])
    return parse_check(rows)
