"""Journal schema migrations, each applied in the same transaction as its record.

Like sqlite-utils' migrations: the `_migrations` table lists what was applied;
a journal whose highest version is above `len(MIGRATIONS)` was written by a
newer ajudaplay and is refused rather than misread. Migrations only add (tables,
nullable columns), so a journal written by an older version stays readable.
"""

from __future__ import annotations

import sqlite3
import time

from ajudaplay.journal.connection import immediate

MIGRATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "initial",
        (
            """CREATE TABLE runs (
                id TEXT PRIMARY KEY,
                playbook TEXT NOT NULL,
                inventory TEXT NOT NULL,
                user TEXT NOT NULL,
                host TEXT NOT NULL,
                started_at REAL NOT NULL,
                finished_at REAL,
                outcome TEXT NOT NULL,
                exit_code INTEGER,
                check_mode INTEGER NOT NULL,
                options TEXT NOT NULL DEFAULT '{}',
                message TEXT NOT NULL DEFAULT ''
            )""",
            "CREATE INDEX runs_started ON runs(started_at)",
            """CREATE TABLE results (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                run_id TEXT NOT NULL REFERENCES runs(id),
                play TEXT NOT NULL,
                task TEXT NOT NULL,
                target TEXT NOT NULL,
                status TEXT NOT NULL,
                changed INTEGER NOT NULL,
                duration REAL NOT NULL,
                started_at REAL NOT NULL,
                diff TEXT NOT NULL DEFAULT '',
                msg TEXT NOT NULL DEFAULT '',
                item TEXT,
                handler INTEGER NOT NULL DEFAULT 0,
                rolled_back INTEGER NOT NULL DEFAULT 0
            )""",
            "CREATE INDEX results_run ON results(run_id)",
            """CREATE TABLE revisions (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                run_id TEXT NOT NULL REFERENCES runs(id),
                target TEXT NOT NULL,
                service TEXT NOT NULL,
                before TEXT,
                after TEXT,
                image TEXT,
                at REAL NOT NULL
            )""",
            "CREATE INDEX revisions_service ON revisions(target, service, at)",
        ),
    ),
    (
        # who runs it (so a SIGKILLed run can be told abandoned), its last sign of life and step
        "run owner",
        (
            "ALTER TABLE runs ADD COLUMN owner TEXT",  # JSON: hostname, pid (ajudaplay/owner.py)
            "ALTER TABLE runs ADD COLUMN heartbeat_at REAL",
            "ALTER TABLE runs ADD COLUMN lock_ttl REAL",
            "ALTER TABLE runs ADD COLUMN last_step TEXT NOT NULL DEFAULT ''",
        ),
    ),
    (
        # which action a result is (deploy, rollback, ...): what delivery metrics count, instead of inferring it
        "result action",
        ("ALTER TABLE results ADD COLUMN action TEXT",),
    ),
)

_CREATE_TABLE = (
    "CREATE TABLE IF NOT EXISTS _migrations ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
)


def current_version(conn: sqlite3.Connection) -> int:
    """Highest applied migration, 0 for a new (empty) database."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'"
    ).fetchone()
    if not exists:
        return 0
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM _migrations").fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Apply pending migrations (connection in autocommit mode); returns the version.

    Each migration runs under BEGIN IMMEDIATE and re-reads the version inside
    it, so two processes creating the same journal at once apply it once.
    """
    version = current_version(conn)
    while version < len(MIGRATIONS):
        with immediate(conn):
            conn.execute(_CREATE_TABLE)
            version = current_version(conn)
            if version < len(MIGRATIONS):
                name, statements = MIGRATIONS[version]
                for statement in statements:
                    conn.execute(statement)
                version += 1
                conn.execute(
                    "INSERT INTO _migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, name, time.time()),
                )
    return version
