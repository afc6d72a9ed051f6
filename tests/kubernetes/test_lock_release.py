"""Releasing the Lease at the end of a run is bounded in time when the API server stops answering.

Leases are API objects: the simulated node (conftest.py `cluster`) is enough, no container runs.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from ajudaplay.actions.base import default_registry
from ajudaplay.engine.events import Event, Message, TaskResult
from ajudaplay.engine.options import RunOptions
from ajudaplay.engine.run import Runner, RunSummary
from ajudaplay.inventory.loader import load_inventory
from ajudaplay.playbook.loader import load_playbook
from tests.kubernetes.conftest import Cluster

pytestmark = pytest.mark.kubernetes


class Events:
    def __init__(self, on_result: Any) -> None:
        self.events: list[Event] = []
        self.on_result = on_result

    def handle(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, TaskResult):
            self.on_result(event)

    def close(self) -> None:
        pass


def test_a_stalled_api_server_does_not_hang_the_exit(cluster: Cluster, fault_proxy: Any, tmp_path: Path) -> None:
    cluster.deployment("api", "img:v1")
    (tmp_path / "play.yml").write_text(yaml.safe_dump([{"hosts": "all", "tasks": [
        {"name": "look", "status": {"service": "api"}}]}]))
    (tmp_path / "inv.yml").write_text(yaml.safe_dump({"targets": {"cluster": {
        "kubernetes": {"kubeconfig": str(fault_proxy.kubeconfig), "namespace": cluster.namespace},
        "services": {"api": {"deployment": "api", "container": "api"}}}}}))
    # from the first result on, every DELETE of the Lease hangs in the proxy for two minutes
    listener = Events(lambda event: fault_proxy.stall(120, match=r"^DELETE .*/leases/"))
    registry = default_registry()
    runner = Runner(load_playbook(tmp_path / "play.yml", registry), load_inventory(tmp_path / "inv.yml"),
                    registry, RunOptions(), [listener])
    box: list[RunSummary] = []
    thread = threading.Thread(target=lambda: box.append(runner.run()), daemon=True)
    started = time.monotonic()
    thread.start()
    try:
        thread.join(60)
        elapsed = time.monotonic() - started
        assert box, f"the run did not end within {elapsed:.0f}s of the API server stalling"
        assert elapsed < 25, elapsed
        assert box[0].exit_code == 0
        warnings = [e.text for e in listener.events if isinstance(e, Message) and e.level == "warning"]
        assert any("TTL" in w and "ajudaplay unlock" in w for w in warnings), warnings
    finally:
        fault_proxy.pass_through()
