"""The verdict branches of triage-errors.yml and triage-latency.yml, the shipped playbooks run in-process.

The end-to-end tests cover "high error rate" and "slow" on real services; here every other branch,
cheaply: the fake target (its logs are "api line N"; `grep: line` makes them error lines; its usage
and endpoints are what tests/metrics set), and the package's real Prometheus for the numbers (5xx
ratio 0.5, p95 2.425 s), an unreachable one, or none named.
"""

from __future__ import annotations

import json
import socket
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from ajudaplay.actions.base import default_registry
from ajudaplay.engine.events import Event, TaskResult
from ajudaplay.engine.options import RunOptions
from ajudaplay.engine.run import Runner
from ajudaplay.inventory.loader import load_inventory
from ajudaplay.inventory.model import TargetSpec
from ajudaplay.outcomes import EndpointsOutcome, UsageOutcome, VerbResult, to_result
from ajudaplay.playbook.loader import load_playbook
from ajudaplay.targets.base import StepContext, Target
from ajudaplay.targets.fake import FakeTarget
from ajudaplay.targets.usage import Sample, usage_outcome
from tests.infra.prometheus.server import PrometheusServer
from tests.metrics.conftest import MetricsProject

ROOT = Path(__file__).resolve().parents[2]


class Busy(FakeTarget):
    """A fake whose one pod runs at 95% of its CPU limit and whose second replica is not ready."""

    def usage(self, ctx: StepContext, service: str) -> VerbResult[UsageOutcome]:
        samples = [Sample(pod=f"{service}-1", container=service, cpu_millicores=475.0, memory_bytes=10 << 20,
                          cpu_limit_millicores=500.0, memory_limit_bytes=64 << 20)]
        return to_result(usage_outcome(service, samples, "fake", []))

    def endpoints(self, ctx: StepContext, service: str) -> VerbResult[EndpointsOutcome]:
        one = {"address": "127.0.0.1", "port": 80, "protocol": "TCP"}
        return to_result(EndpointsOutcome(service=service, ready=[{**one, "where": f"{service}-1"}],
                                          not_ready=[{**one, "where": f"{service}-2"}], ports=[], internal_urls=[],
                                          hosts=[]))


class Listener:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def handle(self, event: Event) -> None:
        self.events.append(event)

    def close(self) -> None:
        pass


def triage(tmp_path: Path, playbook: str, prometheus_url: str | None, busy: bool = False,
           database: Path | None = None, **extra: Any) -> dict[str, Any]:
    """Run a shipped triage playbook on one fake target; {task: registered data} plus the verdict."""
    api: dict[str, Any] = {"database": {"path": str(database)}} if database else {}
    doc: dict[str, Any] = {"targets": {"t": {"fake": {}, "services": {"api": api}}}}
    if prometheus_url:
        doc["vars"] = {"metrics": {"prometheus": prometheus_url}}
    (tmp_path / "inv.yml").write_text(json.dumps(doc))
    registry = default_registry()
    listener = Listener()

    def make(spec: TargetSpec) -> Target:
        return Busy(spec) if busy else FakeTarget(spec)

    runner = Runner(load_playbook(ROOT / "playbooks" / playbook, registry), load_inventory(tmp_path / "inv.yml"),
                    registry, RunOptions(extra_vars=extra), [listener], make_target=make)
    summary = runner.run()
    results = [e for e in listener.events if isinstance(e, TaskResult)]
    assert summary.exit_code == 0, [(r.task, r.status, r.result.msg) for r in results]
    (line,) = [r.result.msg for r in results if r.task == "Summary"]
    assert line.startswith("t api: "), line
    return {"verdict": line[len("t api: "):], **{r.task: r.result.data for r in results if r.item is None}}


def closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_errors_without_prometheus_by_the_number_of_lines(tmp_path: Path) -> None:
    assert triage(tmp_path, "triage-errors.yml", None)["verdict"] == "no error lines in 15m (no Prometheus named)"
    few = triage(tmp_path, "triage-errors.yml", None, grep="line", tail=5)["verdict"]
    assert few == ('some errors (no Prometheus named): 5 error lines in 15m (5 from api), top pattern 5x "line <n>", '
                   "under 50; next: name metrics.prometheus in the inventory for the 5xx ratio")
    many = triage(tmp_path, "triage-errors.yml", None, grep="line", tail=60, window="1h")["verdict"]
    assert many.startswith('high error rate (no Prometheus named: by the logs): 60 error lines in 1h (60 from api), '
                           'top pattern 60x "line <n>" (max 50); next: did a deploy start it?'), many


@pytest.mark.docker  # the package's Prometheus scrapes the Compose service
def test_errors_with_prometheus_normal_unreadable_and_without_samples(
        tmp_path: Path, prometheus: PrometheusServer, ready: MetricsProject) -> None:
    normal = triage(tmp_path, "triage-errors.yml", prometheus.url, max_error_ratio=0.9)["verdict"]
    assert normal.startswith("error rate normal: 5xx ratio 50.00% over 5m (max 90.0%); 0 error lines in 15m"), normal
    gone = triage(tmp_path, "triage-errors.yml", closed_url())["verdict"]
    assert gone.startswith("cannot read the 5xx ratio (http://127.0.0.1:") and "refused" in gone, gone
    assert gone.endswith("next: check metrics.prometheus, then read the patterns above"), gone
    none = triage(tmp_path, "triage-errors.yml", prometheus.url,
                  error_ratio_query='sum(rate(no_such_total{status=~"5.."}[5m]))')["verdict"]
    assert none.startswith("no 5xx ratio: Prometheus has no http_requests_total samples for the last 5m; "), none


@pytest.mark.docker  # the package's Prometheus scrapes the Compose service
def test_latency_normal_and_without_prometheus(tmp_path: Path, prometheus: PrometheusServer,
                                              ready: MetricsProject) -> None:
    normal = triage(tmp_path, "triage-latency.yml", prometheus.url, max_p95_seconds=5)
    assert normal["verdict"].startswith("latency normal: p95 2.4"), normal["verdict"]
    assert normal["verdict"].endswith("s over 5m (max 5s); 1 ready, 0 not ready; cpu/memory under 90%/90% of the "
                                      "limits; database none"), normal["verdict"]
    blind = triage(tmp_path, "triage-latency.yml", None)["verdict"]
    assert blind == ("no latency figure: no Prometheus named; 1 ready, 0 not ready; cpu/memory under 90%/90% of the "
                     "limits; database none; next: name metrics.prometheus in the inventory for the p95")


@pytest.mark.docker  # the package's Prometheus scrapes the Compose service
def test_latency_saturated_comes_before_replicas_not_ready(tmp_path: Path, prometheus: PrometheusServer,
                                                           ready: MetricsProject) -> None:
    hot = triage(tmp_path, "triage-latency.yml", prometheus.url, busy=True)
    assert hot["verdict"].startswith("slow, saturated: p95 2.4"), hot["verdict"]
    assert "1 ready, 1 not ready; api-1 at 95.0% cpu, 15.6% memory of the limits; database none; next: scale.yml" \
        in hot["verdict"], hot["verdict"]
    assert hot["Verdict"]["ajudaplay_set_vars"]["saturated"] == ["api-1"]
    unready = triage(tmp_path, "triage-latency.yml", prometheus.url, busy=True, max_cpu_percent=99)["verdict"]
    assert unready.startswith("slow with 1 replica(s) not ready (the others carry the load): p95 2.4"), unready
    assert unready.endswith("next: triage-wont-start.yml for those"), unready


def test_latency_with_a_database_ok_and_damaged(tmp_path: Path) -> None:
    """The fake's database is a file on the controller (its workspace), checked with the controller's sqlite3."""
    good = tmp_path / "data" / "app.db"
    good.parent.mkdir()
    with sqlite3.connect(good) as con:
        con.execute("CREATE TABLE events(id INTEGER PRIMARY KEY, at TEXT)")
    con.close()
    fine = triage(tmp_path, "triage-latency.yml", None, database=good)
    assert fine["Quick database check (a service without a database says so)"]["ok"] is True
    assert "; database ok; next: name metrics.prometheus" in fine["verdict"], fine["verdict"]
    bad = tmp_path / "data" / "bad.db"
    bad.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4096)
    damaged = triage(tmp_path, "triage-latency.yml", None, database=bad)["verdict"]
    assert damaged.startswith("the database is damaged: no Prometheus named; "), damaged
    assert "; database quick_check failed: " in damaged and damaged.endswith(
        "next: db-check.yml for the full integrity_check, then db-recover.yml"), damaged
