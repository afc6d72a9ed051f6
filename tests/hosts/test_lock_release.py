"""Releasing locks at the end of a run: bounded in time on a host that stopped answering, and never racing a
renewal still in flight (which used to leave the lock behind for its whole TTL as "not mine")."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from ajudaplay.actions.base import default_registry
from ajudaplay.engine.events import Event, Message, TaskResult
from ajudaplay.engine.options import RunOptions
from ajudaplay.engine.run import Runner, RunSummary
from ajudaplay.hosts.base import CommandResult, HostConnection
from ajudaplay.inventory.loader import load_inventory
from ajudaplay.inventory.model import TargetSpec
from ajudaplay.playbook.loader import load_playbook
from ajudaplay.targets.host import HostTarget
from tests.hosts.conftest import ssh_connection

FROZEN_ADDRESS = "127.0.0.19"  # a "host" of its own: freezing it touches no other test


class Events:
    """Listener keeping the events; calls `on_result(event)` for every TaskResult, in the engine's thread."""

    def __init__(self, on_result: Any = None) -> None:
        self.events: list[Event] = []
        self.on_result = on_result

    def handle(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, TaskResult) and self.on_result is not None:
            self.on_result(event)

    def close(self) -> None:
        pass

    def warnings(self) -> list[str]:
        return [e.text for e in self.events if isinstance(e, Message) and e.level == "warning"]


def _runner(tmp: Path, target: dict[str, Any], tasks: list[dict[str, Any]], listener: Events,
            make_target: Any = None, **options: Any) -> Runner:
    (tmp / "play.yml").write_text(yaml.safe_dump([{"hosts": "all", "tasks": tasks}]))
    (tmp / "inv.yml").write_text(yaml.safe_dump({"targets": {"web": target}}))
    registry = default_registry()
    return Runner(load_playbook(tmp / "play.yml", registry), load_inventory(tmp / "inv.yml"), registry,
                  RunOptions(**options), [listener], make_target=make_target)


def _run_bounded(runner: Runner, limit: float) -> tuple[RunSummary | None, float]:
    """run() in a thread; (None, elapsed) if it has not returned within `limit` s."""
    box: list[RunSummary] = []
    thread = threading.Thread(target=lambda: box.append(runner.run()), daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(limit)
    return (box[0] if box else None), time.monotonic() - started


def _sshd_tree(sshd: Any, address: str) -> list[int]:
    from tests.infra.sshd.sshd import _descendants

    root = sshd.procs[address].pid
    return [root, *_descendants(root)]


@pytest.fixture
def frozen_host(sshd: Any) -> Iterator[Any]:
    """freeze(): every sshd process of FROZEN_ADDRESS stops (SIGSTOP), the TCP connection stays open:
    the host stopped answering. Thawed (SIGCONT) afterwards whatever happened."""
    frozen: list[int] = []

    def freeze() -> None:
        for pid in _sshd_tree(sshd, FROZEN_ADDRESS):
            try:
                os.kill(pid, signal.SIGSTOP)
                frozen.append(pid)
            except ProcessLookupError:
                pass

    yield freeze
    for pid in frozen:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


def test_a_host_that_stopped_answering_does_not_hang_the_exit(sshd: Any, frozen_host: Any, tmp_path: Path) -> None:
    lock_path = f"/tmp/ajudaplay-frozen-{uuid.uuid4().hex[:8]}.lock"
    target = {**ssh_connection(sshd, "ajtest19", FROZEN_ADDRESS), "lock_path": lock_path}
    listener = Events(on_result=lambda event: frozen_host() if event.task == "touch" else None)
    runner = _runner(tmp_path, target, [{"name": "touch", "shell": "true"}], listener)
    try:
        summary, elapsed = _run_bounded(runner, 60)
    finally:
        shutil.rmtree(lock_path, ignore_errors=True)  # the loopback "host" is this machine
    assert summary is not None, f"the run did not end within {elapsed:.0f}s of a host that stopped answering"
    assert elapsed < 25, elapsed
    assert summary.exit_code == 0  # the work was done; only the release could not be
    assert any("lock" in w and "TTL" in w for w in listener.warnings()), listener.warnings()


class _SlowReturns:
    """A real host connection whose lock renewals come back late (a slow network on the way back):
    the renewal is done on the host, then `flag` is created, then 4 s pass before run() returns."""

    def __init__(self, inner: HostConnection, flag: Path) -> None:
        self.inner = inner
        self.flag = flag
        self.name = inner.name

    def run(self, command: str, **kwargs: Any) -> CommandResult:
        result = self.inner.run(command, **kwargs)
        if "RENEWED" in command and not self.flag.exists():
            self.flag.touch()
            time.sleep(4)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_release_waits_for_a_renewal_in_flight_and_removes_the_lock(tmp_path: Path) -> None:
    lock_path = tmp_path / "web.lock"
    flag = tmp_path / "renewed-on-the-host"

    class SlowRenewals(HostTarget):
        def open(self) -> None:
            super().open()
            if self._conn is not None and not isinstance(self._conn, _SlowReturns):
                self._conn = _SlowReturns(self._conn, flag)  # type: ignore[assignment]

    def make_target(spec: TargetSpec) -> HostTarget:
        return SlowRenewals(spec)

    listener = Events()
    # the step ends as soon as the first renewal has reached the host: the run ends while it is in flight
    runner = _runner(tmp_path, {"host": "@local", "lock_path": str(lock_path)},
                     [{"name": "until renewed", "wait_for": {"path": str(flag), "timeout": 30, "sleep": 0.1}}],
                     listener, make_target, lock_ttl=6)
    summary, elapsed = _run_bounded(runner, 40)
    assert summary is not None and summary.exit_code == 0, summary
    assert flag.exists()
    assert not lock_path.exists(), "the lock was left behind: release raced the renewal"
    assert not [w for w in listener.warnings() if "release" in w], listener.warnings()
