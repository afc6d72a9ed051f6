"""Opening the SQLite file: WAL, busy timeout, and sqlite errors turned into JournalError."""

from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ajudaplay.errors import JournalError

DEFAULT_TIMEOUT = 10.0  # seconds a writer waits for another process before giving up


def describe(path: Path, exc: BaseException, timeout: float) -> JournalError:
    """A JournalError that names the path, the reason and what to do about it."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        reason = f"it is locked by another process (waited {timeout:g}s)"
        hint = "another ajudaplay may be writing; try again, or point AJUDAPLAY_JOURNAL elsewhere"
    elif "not a database" in text or "malformed" in text:
        reason = "the file is not an SQLite database"
        hint = "move the file away, or point AJUDAPLAY_JOURNAL at another path"
    elif "readonly" in text or "read-only" in text:
        reason = "it is read-only"
        hint = "fix the permissions, or point AJUDAPLAY_JOURNAL at a writable path"
    else:
        reason = text
        hint = "check the path and its permissions, or point AJUDAPLAY_JOURNAL elsewhere"
    return JournalError(f"cannot use journal {path}: {reason}\n    hint: {hint}")


def _check_path(path: Path) -> None:
    """Fail early, with a clear reason, for paths sqlite would only call 'unable to open'."""
    if path.is_dir():
        raise JournalError(
            f"cannot use journal {path}: it is a directory\n"
            f"    hint: give a file path, e.g. {path / 'journal.sqlite'}"
        )
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise JournalError(
            f"cannot use journal {path}: cannot create directory {parent}: {exc.strerror or exc}\n"
            "    hint: point AJUDAPLAY_JOURNAL at a writable path"
        ) from exc
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise JournalError(
            f"cannot use journal {path}: {'the file' if path.exists() else 'its directory'} is not writable\n"
            "    hint: fix the permissions, or point AJUDAPLAY_JOURNAL at a writable path"
        )


def connect(path: Path, timeout: float = DEFAULT_TIMEOUT) -> sqlite3.Connection:
    """An autocommit connection in WAL mode that waits `timeout` s for other writers."""
    _check_path(path)
    try:
        conn = sqlite3.connect(
            str(path), timeout=timeout, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise describe(path, exc, timeout) from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL").fetchone()
        conn.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.Error as exc:
        conn.close()
        raise describe(path, exc, timeout) from exc
    return conn


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """A short write transaction that takes the write lock up front (no upgrade deadlocks)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
