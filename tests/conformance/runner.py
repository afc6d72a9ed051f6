"""Run one scenario as a playbook through the engine and read back what `register:` stored.

Each step of a scenario becomes a task with `register: <step id>` and `ignore_errors: true`
(so a failing step still lets the rest of the play run); after the steps, one `debug: {var: ...}`
per step prints the registered value. The value read back is the debug task's data: exactly what
a playbook author sees in templates, after the engine's own register/redaction path.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ajudaplay.actions.base import default_registry
from ajudaplay.engine.events import TaskResult
from ajudaplay.engine.options import RunOptions
from ajudaplay.engine.run import Runner
from ajudaplay.inventory.loader import load_inventory
from ajudaplay.playbook.loader import load_playbook
from ajudaplay.report.jsonl import event_record
from tests.conformance.drivers import Mode
from tests.engine.conftest import Collector


@dataclass
class StepOutcome:
    """One step on one mode: its answer (ok/changed/failed/skipped) and its registered value."""

    answer: str
    registered: dict[str, Any]


@dataclass
class ScenarioRun:
    """A finished scenario playbook: each step's outcome, every event as JSON text, its wall time."""

    steps: dict[str, StepOutcome] = field(default_factory=dict)
    output: str = ""
    seconds: float = 0.0
    exit_code: int = 0


def answer_of(status: str) -> str:
    """The task's status as ok/changed/failed/skipped (ignore_errors turns failed into ignored)."""
    return "failed" if status in ("failed", "ignored") else status


def playbook_for(steps: list[tuple[str, str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """(step id, action, args) -> one play on target `t`: the steps registered, then a debug per step."""
    tasks: list[dict[str, Any]] = []
    for step_id, action, args in steps:
        tasks.append({"name": f"step {step_id}", action: args, "register": step_id, "ignore_errors": True})
    for step_id, _, _ in steps:
        tasks.append({"name": f"show {step_id}", "debug": {"var": step_id}})
    return [{"name": "conformance", "hosts": "t", "tasks": tasks}]


def run_scenario(mode: Mode, name: str, steps: list[tuple[str, str, dict[str, Any]]],
                 extra_vars: dict[str, Any] | None = None, files: dict[str, bytes] | None = None) -> ScenarioRun:
    """Run the steps as one playbook on `mode` (`files` written beside it first); raises if the engine refuses it."""
    folder = mode.workdir / name
    folder.mkdir(parents=True, exist_ok=True)
    for file_name, content in (files or {}).items():
        (folder / file_name).write_bytes(content)
    path = folder / "play.yml"
    path.write_text(json.dumps(playbook_for(steps), indent=2))
    registry = default_registry()
    playbook = load_playbook(path, registry)
    inventory = load_inventory(mode.write_inventory())
    collector = Collector()  # every event the engine emits, after its redactor
    options = RunOptions(extra_vars=dict(extra_vars or {}), user="conformance")
    started = time.monotonic()
    summary = Runner(playbook, inventory, registry, options, [collector], make_target=mode.make_target).run()
    run = ScenarioRun(seconds=time.monotonic() - started, exit_code=summary.exit_code)
    run.output = "\n".join(json.dumps(event_record(e), default=str) for e in collector.events)
    results = [e for e in collector.events if isinstance(e, TaskResult)]
    for step_id, _, _ in steps:
        done = [r for r in results if r.task == f"step {step_id}"]
        shown = [r for r in results if r.task == f"show {step_id}"]
        assert len(done) == 1 and len(shown) == 1, f"{mode.id}/{name}/{step_id}: no result\n{run.output}"
        value = shown[0].result.data.get(step_id)
        assert isinstance(value, dict), f"{mode.id}/{name}/{step_id}: registered {value!r}"
        run.steps[step_id] = StepOutcome(answer_of(done[0].status), value)
    return run
