"""Run history in SQLite: every run, every task result, every revision change.

`Journal.open(path)` opens (creating and migrating) the file; `Journal.listener()`
is the engine listener that writes events as they arrive; `runs()`, `run()` and
`revisions()` answer `ajudaplay history` / `show`. WAL mode and a busy timeout
make two runs from two processes safe at once.
"""

from __future__ import annotations

import os
from pathlib import Path

from ajudaplay.journal.listener import JournalListener
from ajudaplay.journal.model import ResultRow, RevisionRow, RunDetail, RunRow
from ajudaplay.journal.store import Journal

__all__ = [
    "Journal",
    "JournalListener",
    "ResultRow",
    "RevisionRow",
    "RunDetail",
    "RunRow",
    "default_path",
]


def default_path() -> Path:
    """$AJUDAPLAY_JOURNAL, else $XDG_STATE_HOME/ajudaplay/journal.sqlite (~/.local/state)."""
    explicit = os.environ.get("AJUDAPLAY_JOURNAL")
    if explicit:
        return Path(explicit).expanduser()
    state = os.environ.get("XDG_STATE_HOME", "")
    base = Path(state) if state and os.path.isabs(state) else Path.home() / ".local" / "state"
    return base / "ajudaplay" / "journal.sqlite"
