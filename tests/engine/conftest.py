"""Engine test harness: a test registry (control actions + thin service actions) and fakes.

Playbooks and inventories are written as YAML and loaded with the real loaders,
so marks and shapes are the real ones; targets are FakeTargets captured by name.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

from ajudaplay.actions import control
from ajudaplay.actions.base import ActionContext, ActionSpec, Registry
from ajudaplay.engine.events import Event, RunFinished, TaskResult
from ajudaplay.engine.options import RunOptions
from ajudaplay.engine.run import Runner, RunSummary
from ajudaplay.inventory.loader import load_inventory
from ajudaplay.inventory.model import TargetSpec
from ajudaplay.playbook.loader import load_playbook
from ajudaplay.targets.base import Result, Target
from ajudaplay.targets.fake import FakeTarget


@dataclass(frozen=True)
class TestAction(ActionSpec):
    """An ActionSpec whose schema lives in the test, not in the package."""

    arg_schema: dict[str, Any] = field(default_factory=lambda: {"type": "object"})

    @property
    def schema(self) -> dict[str, Any]:
        return dict(self.arg_schema)


def _deploy(ctx: ActionContext, args: dict[str, Any]) -> Result:
    return ctx.target.deploy(ctx.step, args["service"], args["image"], bool(args.get("atomic", False)))


def _restart(ctx: ActionContext, args: dict[str, Any]) -> Result:
    return ctx.target.restart(ctx.step, args["service"])


def _status(ctx: ActionContext, args: dict[str, Any]) -> Result:
    return ctx.target.status(ctx.step, args["service"])


def _scale(ctx: ActionContext, args: dict[str, Any]) -> Result:
    return ctx.target.scale(ctx.step, args["service"], args.get("replicas"), None, None)


def _exec(ctx: ActionContext, args: dict[str, Any]) -> Result:
    return ctx.target.exec(ctx.step, args["service"], args["command"])


def _echo(ctx: ActionContext, args: Any) -> Result:
    """Returns its (rendered) arguments as data: for precedence and templating tests."""
    return Result(data={"args": args}, msg=str(args))


def _boom(ctx: ActionContext, args: Any) -> Result:
    raise ZeroDivisionError("boom")


def _counter(ctx: ActionContext, args: dict[str, Any]) -> Result:
    """Succeeds (data.n) on the call number given by `ok_on`; fails before that."""
    target = ctx.target
    assert isinstance(target, FakeTarget)
    n = sum(1 for c in target.calls if c.method == "exec") + 1
    target.exec(ctx.step, args.get("service", "api"), "count")
    ok_on = int(args.get("ok_on", 1))
    return Result(failed=n < ok_on, data={"n": n}, msg=f"call {n}")


def make_registry() -> Registry:
    registry = Registry()
    control.register(registry)
    for name, fn, controller in [
        ("deploy", _deploy, False),
        ("restart", _restart, False),
        ("status", _status, False),
        ("scale", _scale, False),
        ("exec", _exec, False),
        ("counter", _counter, False),
        ("echo", _echo, True),
        ("boom", _boom, True),
    ]:
        registry.register(TestAction(name, fn, controller=controller))
    return registry


class Collector:
    """A Listener that keeps every event."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.closed = False

    def handle(self, event: Event) -> None:
        self.events.append(event)

    def close(self) -> None:
        self.closed = True

    def results(self, task: str | None = None, target: str | None = None) -> list[TaskResult]:
        return [
            e for e in self.events
            if isinstance(e, TaskResult) and (task is None or e.task == task) and (target is None or e.target == target)
        ]

    def status(self, task: str, target: str) -> str:
        found = self.results(task, target)
        assert len(found) == 1, f"{task}/{target}: {found}"
        return found[0].status

    @property
    def finished(self) -> RunFinished:
        last = self.events[-1]
        assert isinstance(last, RunFinished)
        return last


@dataclass
class Harness:
    tmp: Path
    registry: Registry = field(default_factory=make_registry)
    targets: dict[str, FakeTarget] = field(default_factory=dict)
    collector: Collector = field(default_factory=Collector)

    def make_target(self, spec: TargetSpec) -> Target:
        target = FakeTarget(spec)
        self.targets[spec.name] = target
        return target

    def write(self, name: str, text: str) -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    def runner(self, playbook: str, inventory: str, **options: Any) -> Runner:
        pb = load_playbook(self.write("play.yml", playbook), self.registry)
        inv = load_inventory(self.write("inventory/test.yml", inventory))
        self.collector = Collector()
        return Runner(pb, inv, self.registry, RunOptions(**options), [self.collector], make_target=self.make_target)

    def run(self, playbook: str, inventory: str, **options: Any) -> RunSummary:
        return self.runner(playbook, inventory, **options).run()


def fakes(n: int, **conf: Any) -> str:
    """Inventory text with targets t1..tn of kind fake, each with service `api`."""
    import json

    body = json.dumps(conf or {})
    lines = ["targets:"]
    for i in range(1, n + 1):
        lines += [f"  t{i}:", f"    fake: {body}", "    services: {api: {}}"]
    return "\n".join(lines) + "\n"


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return Harness(tmp_path)


Fixture = Callable[..., Any]
