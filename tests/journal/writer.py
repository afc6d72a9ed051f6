"""A separate process that journals one run of N results: used by the concurrency test."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ajudaplay.engine.events import PlayStarted, RunFinished, RunStarted, TaskResult
from ajudaplay.journal import Journal
from ajudaplay.targets.base import Result, RevisionChange


def main(path: str, run_id: str, count: int) -> int:
    journal = Journal.open(Path(path))
    listener = journal.listener()
    now = time.time()
    listener.handle(RunStarted(run_id, "pb.yml", "prod", "ci", now, False))
    listener.handle(PlayStarted(run_id, "play", ["t"]))
    for index in range(count):
        result = Result(changed=True, revisions=[RevisionChange("api", str(index), str(index + 1))])
        listener.handle(TaskResult(run_id, "play", f"task {index}", "t", "changed", result, 0.01, now + index))
    listener.handle(RunFinished(run_id, "success", 0, time.time(), {}))
    listener.close()
    journal.close()
    if listener.error is not None:
        print(listener.error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
