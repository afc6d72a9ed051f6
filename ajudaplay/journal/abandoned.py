"""Runs journaled as `running` whose process is gone become `abandoned`, with their last step.

A run killed with SIGKILL (or a power cut) never writes RunFinished. Every
open of the journal (`run`, `history`, `show`) looks at the rows still
`running` and marks abandoned:

- a run of this machine whose process no longer exists (owner.py), at once;
- a run of another machine that gave no sign of life (heartbeat, step,
  result) for longer than its lock ttl: by then its locks have expired too.

Rows written before the owner column existed have no owner and are left as
they are: nothing says whether they still run.
"""

from __future__ import annotations

import json
import sqlite3
import time

from ajudaplay.journal.connection import immediate
from ajudaplay.owner import ProcessOwner


def _owner(text: str | None) -> ProcessOwner | None:
    try:
        return ProcessOwner.from_json(json.loads(text)) if text else None
    except ValueError:
        return None


def _reason(owner: ProcessOwner, host: str, last_sign: float, ttl: float, now: float) -> str:
    """Why the run is abandoned, or "" while it may still be running."""
    if owner.is_gone():
        return f"its process ({owner.describe()}) is gone"
    if not owner.on_this_machine() and now - last_sign > ttl:
        return (f"no sign of life from {host} for {now - last_sign:.0f}s, longer than its "
                f"{ttl:g}s lock ttl: its locks have expired")
    return ""


def mark_abandoned(conn: sqlite3.Connection, now: float | None = None) -> list[str]:
    """Mark every abandoned `running` run; returns their ids. Autocommit connection."""
    now = time.time() if now is None else now
    rows = conn.execute(
        "SELECT id, host, owner, COALESCE(heartbeat_at, started_at), COALESCE(lock_ttl, 900), last_step, "
        "(SELECT MAX(started_at + duration) FROM results WHERE results.run_id = runs.id) "
        "FROM runs WHERE outcome = 'running' AND owner IS NOT NULL"
    ).fetchall()
    marked: list[str] = []
    for run_id, host, owner_text, heartbeat, ttl, last_step, last_result in rows:
        owner = _owner(owner_text)
        if owner is None:
            continue
        reason = _reason(owner, str(host), max(float(heartbeat), float(last_result or 0)), float(ttl), now)
        if not reason:
            continue
        message = f"abandoned: {reason}; last known step: {last_step or 'none started'}"
        with immediate(conn):
            conn.execute("UPDATE runs SET outcome = 'abandoned', message = ? WHERE id = ? AND outcome = 'running'",
                         (message, run_id))
        marked.append(str(run_id))
    return marked
