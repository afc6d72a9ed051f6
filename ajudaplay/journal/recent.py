"""The journal's recent runs of one target: what `changes` asks ("was there a deploy in the last hour, by whom").

A reader over the journal's tables (journal/schema.py): the runs with a result on the
target or a revision move of it since a time, newest first, each with its inventory (a
team journal holds several environments whose targets may share a name: the caller
keeps its own), its changed count and its revision moves. Each call opens its own read-only connection (WAL: the
run's own writer is never blocked), so the same reader serves a run that journals and a
`--no-journal` run reading the default journal; a missing file answers nothing.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from ajudaplay.journal.connection import DEFAULT_TIMEOUT

__all__ = ["RecentRuns"]

_RUNS = (
    "SELECT id, playbook, inventory, user, host, started_at, finished_at, outcome, check_mode FROM runs "
    "WHERE started_at >= ? AND id IN ("
    "  SELECT run_id FROM results WHERE target = ? UNION SELECT run_id FROM revisions WHERE target = ?"
    ") ORDER BY started_at DESC, rowid DESC LIMIT ?"
)


class RecentRuns:
    """Callable (target, since epoch seconds) -> the runs that touched the target, newest first."""

    def __init__(self, path: Path, limit: int = 50, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.path = Path(path).expanduser()
        self.limit = limit
        self.timeout = timeout

    def __call__(self, target: str, since: float) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=self.timeout,
                               check_same_thread=False)
        try:
            return self._read(conn, target, since)
        except sqlite3.Error:
            return []  # an unreadable journal is no evidence either way; the caller says "no runs"
        finally:
            conn.close()

    def _read(self, conn: sqlite3.Connection, target: str, since: float) -> list[dict[str, Any]]:
        runs = conn.execute(_RUNS, (since, target, target, self.limit)).fetchall()
        out: list[dict[str, Any]] = []
        for run_id, playbook, inventory, user, host, started, ended, outcome, check in runs:
            changed = conn.execute(
                "SELECT COUNT(*) FROM results WHERE run_id = ? AND target = ? AND changed = 1", (run_id, target),
            ).fetchone()[0]
            moves = [
                {"service": service, "before": before, "after": after, "image": image, "at": at}
                for service, before, after, image, at in conn.execute(
                    "SELECT service, before, after, image, at FROM revisions WHERE run_id = ? AND target = ? ORDER BY id",
                    (run_id, target),
                )
            ]
            out.append({
                "run_id": run_id, "playbook": playbook, "inventory": inventory, "user": user, "host": host, "started": started,
                "ended": ended, "status": outcome, "check": bool(check), "changed": int(changed),
                "revisions": moves,
            })
        return out
