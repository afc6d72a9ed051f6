"""Running a triage playbook with `ajudaplay run --output json` and reading its verdict (both modes' tests)."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class TriageRun:
    rc: int
    stdout: str
    stderr: str
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.stdout + self.stderr

    def _one(self, task: str) -> dict[str, Any]:
        found = [e for e in self.events if e.get("event") == "task_result" and e.get("task") == task]
        assert len(found) == 1, f"{len(found)} results of {task!r}:\n{self.text}"
        return found[0]

    def data(self, task: str) -> dict[str, Any]:
        data: dict[str, Any] = self._one(task).get("data") or {}
        return data

    def status(self, task: str) -> str:
        return str(self._one(task)["status"])

    def verdict(self, target: str, service: str = "api") -> str:
        """The Summary line without its "<target> <service>: " prefix."""
        msg = str(self._one("Summary").get("msg") or "")
        prefix = f"{target} {service}: "
        assert msg.startswith(prefix), msg
        return msg[len(prefix):]


def run_triage(ajudaplay: str, playbook: Path, inventory: Path, *args: str, timeout: float = 120) -> TriageRun:
    cmd = [ajudaplay, "run", str(playbook), "-i", str(inventory), "--no-journal", "--output", "json", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env=dict(os.environ, NO_COLOR="1"))
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return TriageRun(done.returncode, done.stdout, done.stderr, events)
