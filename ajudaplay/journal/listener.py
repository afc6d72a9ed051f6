"""Writes engine events to the journal as they arrive, one short transaction each.

A run interrupted midway keeps what happened so far: RunStarted inserts the run
as 'running', every TaskResult is committed at once, RunFinished closes it.
Events come from the engine's workers, so one connection is guarded by a lock.
A write that fails does not stop the run: the first failure is raised once as
JournalError (the engine's EventBus collects it and exits with code 5), kept
in `error`, and later events are dropped instead of failing again.

The run row also records its owner (hostname, pid), the step it is on and a
heartbeat written every ttl/3 (at most a minute) while it lasts: a run that
was killed (SIGKILL, power cut) stops beating, and the next open of the
journal marks it `abandoned` (store.py) instead of `running` forever.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from ajudaplay.engine.events import Event, RunFinished, RunStarted, TaskResult, TaskStarted
from ajudaplay.errors import JournalError
from ajudaplay.journal.connection import describe, immediate
from ajudaplay.owner import ProcessOwner

DEFAULT_LOCK_TTL = 900.0  # a run that does not say its lock ttl (RunStarted.extra["lock_ttl"])
MAX_HEARTBEAT = 60.0  # seconds between heartbeats, at most


def _json(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)


def _positive(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


class JournalListener:
    """The engine `Listener` that journals one run; owns its own connection."""

    def __init__(self, conn: sqlite3.Connection, path: Path, timeout: float) -> None:
        self._conn: sqlite3.Connection | None = conn
        self._path = path
        self._timeout = timeout
        self._lock = threading.Lock()
        self._open_runs: set[str] = set()
        self._stop_beating = threading.Event()
        self.error: JournalError | None = None

    def handle(self, event: Event) -> None:
        """Journal one event; raises JournalError only for the first failed write."""
        with self._lock:
            if self._conn is None or self.error is not None:
                return
            try:
                self._write(self._conn, event)
            except sqlite3.Error as exc:
                self._fail(exc)

    def close(self) -> None:
        """Mark a run that never finished as interrupted, then close the connection."""
        self._stop_beating.set()
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is None:
                return
            try:
                if self.error is None:
                    for run_id in sorted(self._open_runs):
                        self._transaction(
                            conn,
                            "UPDATE runs SET outcome = 'interrupted', finished_at = ?, message = ? "
                            "WHERE id = ? AND outcome = 'running'",
                            (time.time(), "the run ended without a final event", run_id),
                        )
            except sqlite3.Error as exc:
                self._fail(exc)
            finally:
                conn.close()

    # writing -----------------------------------------------------------------
    def _write(self, conn: sqlite3.Connection, event: Event) -> None:
        if isinstance(event, RunStarted):
            self._run_started(conn, event)
        elif isinstance(event, TaskResult):
            self._task_result(conn, event)
        elif isinstance(event, TaskStarted):
            step = f"{event.task} on {', '.join(event.targets)}" if event.targets else event.task
            self._transaction(conn, "UPDATE runs SET last_step = ?, heartbeat_at = ? WHERE id = ?",
                              (step, time.time(), event.run_id))
        elif isinstance(event, RunFinished):
            self._transaction(
                conn,
                "UPDATE runs SET finished_at = ?, outcome = ?, exit_code = ?, message = ? WHERE id = ?",
                (event.finished_at, event.outcome, event.exit_code, event.message, event.run_id),
            )
            self._open_runs.discard(event.run_id)

    def _run_started(self, conn: sqlite3.Connection, event: RunStarted) -> None:
        host = str(event.extra.get("host") or socket.gethostname())
        ttl = _positive(event.extra.get("lock_ttl")) or DEFAULT_LOCK_TTL
        self._transaction(
            conn,
            "INSERT OR IGNORE INTO runs (id, playbook, inventory, user, host, started_at, outcome, "
            "check_mode, options, owner, heartbeat_at, lock_ttl) VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?)",
            (
                event.run_id,
                event.playbook,
                event.inventory,
                event.user,
                host,
                event.started_at,
                int(event.check),
                _json(event.extra),
                _json(ProcessOwner.current().to_json()),
                time.time(),
                ttl,
            ),
        )
        self._open_runs.add(event.run_id)
        period = min(MAX_HEARTBEAT, ttl / 3)
        threading.Thread(target=self._beat, args=(event.run_id, period), daemon=True,
                         name="ajudaplay-journal-heartbeat").start()

    def _beat(self, run_id: str, period: float) -> None:
        """While the run is open: heartbeat_at = now, every `period` s (a failed beat is not an error)."""
        while not self._stop_beating.wait(period):
            with self._lock:
                if self._conn is None or run_id not in self._open_runs:
                    return
                try:
                    self._transaction(self._conn, "UPDATE runs SET heartbeat_at = ? WHERE id = ? AND outcome = 'running'",
                                      (time.time(), run_id))
                except sqlite3.Error:
                    continue

    def _task_result(self, conn: sqlite3.Connection, event: TaskResult) -> None:
        result = event.result
        finished = event.started_at + event.duration
        with immediate(conn):
            conn.execute(
                "INSERT INTO results (run_id, play, task, target, status, changed, duration, "
                "started_at, diff, msg, item, handler, rolled_back, action) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    event.run_id,
                    event.play,
                    event.task,
                    event.target,
                    event.status,
                    int(result.changed),
                    event.duration,
                    event.started_at,
                    result.diff_summary(),
                    event.error or result.msg,
                    None if event.item is None else _json(event.item),
                    int(event.handler),
                    int(result.rolled_back),
                    event.action or None,
                ),
            )
            conn.executemany(
                "INSERT INTO revisions (run_id, target, service, before, after, image, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (event.run_id, event.target, r.service, r.before, r.after, r.image, finished)
                    for r in result.revisions
                ],
            )

    @staticmethod
    def _transaction(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> None:
        with immediate(conn):
            conn.execute(sql, params)

    def _fail(self, exc: sqlite3.Error) -> None:
        self.error = describe(self._path, exc, self._timeout)
        raise self.error from exc
