"""Running a triage playbook with `ajudaplay run --output json` and reading its verdict (both modes' tests)."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.database.e2e import Run


@dataclass
class TriageRun(Run):
    """A finished run (tests/database/e2e.py's Run: exit code, output, JSON events) plus its verdict."""

    def verdict(self, target: str, service: str = "api") -> str:
        """The Summary line without its "<target> <service>: " prefix."""
        found = [e for e in self.events if e.get("event") == "task_result" and e.get("task") == "Summary"]
        assert len(found) == 1, f"{len(found)} results of 'Summary':\n{self.text}"
        msg = str(found[0].get("msg") or "")
        prefix = f"{target} {service}: "
        assert msg.startswith(prefix), msg
        return msg[len(prefix):]


def run_triage(ajudaplay: str, playbook: Path, inventory: Path, *args: str, timeout: float = 120) -> TriageRun:
    cmd = [ajudaplay, "run", str(playbook), "-i", str(inventory), "--no-journal", "--output", "json", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env=dict(os.environ, NO_COLOR="1"))
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return TriageRun(done.returncode, done.stdout, done.stderr, events)
