"""The Journal: opens (and migrates) the SQLite file, hands out listeners, answers queries."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from ajudaplay.errors import JournalError
from ajudaplay.journal.abandoned import mark_abandoned
from ajudaplay.journal.connection import DEFAULT_TIMEOUT, connect, describe
from ajudaplay.journal.listener import JournalListener
from ajudaplay.journal.model import ResultRow, RevisionRow, RunDetail, RunRow
from ajudaplay.journal.schema import MIGRATIONS, current_version, migrate

_RUN_COLUMNS = (
    "id, playbook, inventory, user, host, started_at, finished_at, outcome, exit_code, check_mode, last_step"
)


class Journal:
    """Run history in one SQLite file, safe for several ajudaplay processes at once."""

    def __init__(self, conn: sqlite3.Connection, path: Path, timeout: float) -> None:
        self._conn: sqlite3.Connection | None = conn
        self.path = path
        self._timeout = timeout
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path, timeout: float = DEFAULT_TIMEOUT) -> Journal:
        """Open or create the journal at `path`; every failure is a JournalError naming it."""
        path = Path(path).expanduser()
        conn = connect(path, timeout)
        try:
            version = current_version(conn)
            if version > len(MIGRATIONS):
                raise JournalError(
                    f"cannot use journal {path}: it was written by a newer ajudaplay "
                    f"(schema version {version}, this version knows up to {len(MIGRATIONS)})\n"
                    "    hint: upgrade ajudaplay, or point AJUDAPLAY_JOURNAL at another path"
                )
            migrate(conn)
            mark_abandoned(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise describe(path, exc, timeout) from exc
        except BaseException:
            conn.close()
            raise
        return cls(conn, path, timeout)

    def listener(self) -> JournalListener:
        """A new engine listener with its own connection (check its `error` after the run)."""
        return JournalListener(connect(self.path, self._timeout), self.path, self._timeout)

    def close(self) -> None:
        """Close the query connection; safe to call twice."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # queries ---------------------------------------------------------------
    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            if self._conn is None:
                raise JournalError(f"journal {self.path} is closed")
            try:
                return list(self._conn.execute(sql, params).fetchall())
            except sqlite3.Error as exc:
                raise describe(self.path, exc, self._timeout) from exc

    def _counts(self, run_ids: list[str]) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {run_id: {} for run_id in run_ids}
        if not run_ids:
            return counts
        marks = ", ".join("?" for _ in run_ids)
        rows = self._query(
            f"SELECT run_id, status, COUNT(*), SUM(rolled_back) FROM results "
            f"WHERE run_id IN ({marks}) GROUP BY run_id, status",
            tuple(run_ids),
        )
        for run_id, status, count, rolled_back in rows:
            per_run = counts[run_id]
            per_run[status] = int(count)
            if rolled_back:
                per_run["rolled_back"] = per_run.get("rolled_back", 0) + int(rolled_back)
        return counts

    @staticmethod
    def _run_row(row: tuple[Any, ...], counts: dict[str, int]) -> RunRow:
        return RunRow(
            id=row[0],
            playbook=row[1],
            inventory=row[2],
            user=row[3],
            host=row[4],
            started_at=row[5],
            finished_at=row[6],
            outcome=row[7],
            exit_code=row[8],
            check_mode=bool(row[9]),
            counts=counts,
            last_step=row[10] or "",
        )

    def runs(self, limit: int = 20) -> list[RunRow]:
        """The most recent runs, newest first."""
        rows = self._query(
            f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY started_at DESC, rowid DESC LIMIT ?",
            (limit,),
        )
        counts = self._counts([row[0] for row in rows])
        return [self._run_row(row, counts[row[0]]) for row in rows]

    def _resolve(self, prefix: str) -> str | None:
        if not prefix:
            raise JournalError("give a run id (or a unique prefix of one); see `ajudaplay history`")
        if self._query("SELECT 1 FROM runs WHERE id = ?", (prefix,)):
            return prefix
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self._query(
            "SELECT id, started_at, playbook FROM runs WHERE id LIKE ? ESCAPE '\\' "
            "ORDER BY started_at DESC LIMIT 11",
            (escaped + "%",),
        )
        if not rows:
            return None
        if len(rows) > 1:
            listed = "\n".join(f"    {row[0]}  {row[2]}" for row in rows[:10])
            more = "\n    ..." if len(rows) > 10 else ""
            raise JournalError(
                f"run id prefix {prefix!r} is ambiguous; it matches:\n{listed}{more}\n"
                "    hint: give more characters of the run id"
            )
        return str(rows[0][0])

    def run(self, run_id_or_unique_prefix: str) -> RunDetail | None:
        """One run with its results and revision changes; None if no run matches."""
        run_id = self._resolve(run_id_or_unique_prefix)
        if run_id is None:
            return None
        rows = self._query(f"SELECT {_RUN_COLUMNS}, options, message FROM runs WHERE id = ?", (run_id,))
        if not rows:
            return None
        row = rows[0]
        try:
            options = json.loads(row[11] or "{}")
        except ValueError:
            options = {}
        results = [
            ResultRow(
                play=r[0],
                task=r[1],
                target=r[2],
                status=r[3],
                changed=bool(r[4]),
                duration=r[5],
                started_at=r[6],
                diff=r[7],
                msg=r[8],
                item=r[9],
                handler=bool(r[10]),
                rolled_back=bool(r[11]),
            )
            for r in self._query(
                "SELECT play, task, target, status, changed, duration, started_at, diff, msg, "
                "item, handler, rolled_back FROM results WHERE run_id = ? ORDER BY id",
                (run_id,),
            )
        ]
        return RunDetail(
            run=self._run_row(row, self._counts([run_id])[run_id]),
            options=options if isinstance(options, dict) else {},
            message=row[12] or "",
            results=results,
            revisions=self._revisions("WHERE run_id = ?", (run_id,), "ORDER BY id"),
        )

    def revisions(
        self, target: str | None = None, service: str | None = None, limit: int = 100
    ) -> list[RevisionRow]:
        """Revision changes, newest first, optionally for one target and/or service."""
        clauses: list[str] = []
        params: list[Any] = []
        if target is not None:
            clauses.append("target = ?")
            params.append(target)
        if service is not None:
            clauses.append("service = ?")
            params.append(service)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        params.append(limit)
        return self._revisions(where, tuple(params), "ORDER BY at DESC, id DESC LIMIT ?")

    def _revisions(self, where: str, params: tuple[Any, ...], order: str) -> list[RevisionRow]:
        return [
            RevisionRow(*row)
            for row in self._query(
                f"SELECT run_id, target, service, before, after, image, at FROM revisions {where} {order}",
                params,
            )
        ]
