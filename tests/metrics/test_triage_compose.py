"""triage-errors.yml and triage-latency.yml, unchanged, through `ajudaplay run` on a real Compose project.

The project is tests/metrics/conftest.py's: the metricsapi service failing half its requests (each
an ERROR line in its log) and taking 2 s per request, scraped by a real Prometheus on loopback that
the inventory names as `metrics.prometheus`. One run per playbook; the verdicts and the registered
counts are the assertions. triage-latency runs in check mode: it is read-only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.compose.conftest import AJUDAPLAY, PLAYBOOKS
from tests.infra.prometheus.server import PrometheusServer
from tests.metrics.conftest import MetricsProject
from tests.metrics.triage import run_triage

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def inventory(ready: MetricsProject, prometheus: PrometheusServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    doc: dict[str, Any] = {
        "vars": {"metrics": {"prometheus": prometheus.url}},
        "targets": {"box": {"compose": {"host": "@local", "project_dir": str(ready.dir), "project_name": ready.name},
                            "services": {"api": {"service": "api"}}}},
    }
    path = tmp_path_factory.mktemp("inv") / "inventory.yml"
    path.write_text(json.dumps(doc))  # JSON is YAML
    return path


def test_triage_errors_says_high_error_rate_with_the_pods_and_patterns(inventory: Path, ready: MetricsProject) -> None:
    run = run_triage(AJUDAPLAY, PLAYBOOKS / "triage-errors.yml", inventory)
    errors = run.data("Error lines of every pod/container in the window")
    (container,) = errors["sources"]  # one container, named as docker names it
    assert container.startswith(ready.name) and errors["sources"][container] == errors["count"] > 0
    top = errors["patterns"][0]
    assert top["pattern"] == "<ts> ERROR GET /api/orders/<n> -> <n>: upstream timed out after <n> ms (request <uuid>)"
    assert top["example"].startswith(container + " ") and top["count"] >= 2 * errors["patterns"][1]["count"] - 2
    assert run.data("5xx ratio over 5 minutes (Prometheus)")["breached"] is True
    verdict = run.verdict("box")
    assert verdict.startswith("high error rate: 5xx ratio 50.0% over 5m (max 5.0%); "), verdict
    assert f'error lines in 15m ({errors["count"]} from {container}), top pattern {top["count"]}x "<ts> ERROR GET' in verdict
    assert "next: did a deploy start it? triage-service-down.yml" in verdict
    assert run.rc == 0, run.text  # a triage reports; the breached threshold is its evidence, not its failure


def test_triage_latency_in_check_mode_says_slow_with_capacity_to_spare(inventory: Path) -> None:
    run = run_triage(AJUDAPLAY, PLAYBOOKS / "triage-latency.yml", inventory, "--check")
    assert run.data("p95 latency over 5 minutes (Prometheus)")["value"] == pytest.approx(2.425, abs=0.02)
    assert run.status("Quick database check (a service without a database says so)") == "skipped"
    assert len(run.data("Replicas that take traffic")["ready"]) == 1
    verdict = run.verdict("box")
    assert verdict.startswith("slow with capacity to spare: p95 2.4"), verdict
    assert "s over 5m (max 1.0s); 1 ready, 0 not ready; cpu/memory under 90%/90% of the limits; database none; " \
           "next: a dependency" in verdict
    assert run.rc == 0, run.text
