"""Fixtures for the metrics tests: a real Prometheus on loopback and a Compose service it scrapes.

Shared by the package's modules (package scope): one Prometheus (tests/infra/prometheus/server.py)
and one Compose project of the metricsapi image (tests/metrics/project), published on a random
127.0.0.1 port that Prometheus scrapes every second. The service fails FAIL_PER_TICK of every
TRAFFIC + FAIL_PER_TICK requests and takes SLOW_MS per request from the start, so the 5xx ratio and
the p95 are known numbers; `ready` waits until Prometheus has enough samples to compute both.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from tests.compose.conftest import docker, docker_engine  # noqa: F401 - fixture
from tests.infra.prometheus.server import PrometheusError, PrometheusServer, static_job

ROOT = Path(__file__).resolve().parents[2]
PROJECT_FILE = Path(__file__).resolve().parent / "project" / "docker-compose.yml"
IMAGE = "ajudaplay-test/metricsapi:v1"
TRAFFIC, FAIL_PER_TICK, SLOW_MS = 10, 10, 2000  # the image's requests per tick; what the test adds
RATIO = FAIL_PER_TICK / (TRAFFIC + FAIL_PER_TICK)  # 0.5: the runbook's 5xx ratio once failing
P95 = 2.425  # histogram_quantile(0.95) with every request in the (1, 2.5] bucket: 1 + 0.95 * 1.5
RATIO_QUERY = 'sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))'
P95_QUERY = "histogram_quantile(0.95, sum(rate(http_request_duration_seconds_bucket[5m])) by (le))"


def ensure_image() -> None:
    """The metricsapi image, built (with the other test images) when missing."""
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode:
        subprocess.run(["bash", str(ROOT / "tests/infra/docker/build-images.sh")], check=True, timeout=300)


@pytest.fixture(scope="package")
def prometheus() -> Iterator[PrometheusServer]:
    """A real Prometheus (Debian's package) on 127.0.0.1, its own data folder; fails (never skips) when absent."""
    try:
        server = PrometheusServer().start()
    except PrometheusError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@dataclass
class MetricsProject:
    """The running project: its name and folder, the container, and where Prometheus scrapes it."""

    name: str
    dir: Path
    container: str
    address: str  # 127.0.0.1:PORT

    def ctl(self, *args: str) -> str:
        return docker("exec", self.container, "metricsctl", *args)


def wait_healthy(name: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        ids = docker("ps", "-q", "--filter", f"label=com.docker.compose.project={name}").split()
        states = json.loads(docker("inspect", *ids)) if ids else []
        if states and all(s["State"].get("Health", {}).get("Status") == "healthy" for s in states):
            return str(states[0]["Id"])
        assert time.monotonic() < deadline, f"not healthy after {timeout}s: {[s['State'] for s in states]}"
        time.sleep(0.3)


@pytest.fixture(scope="package")
def compose_metrics(docker_engine: None, prometheus: PrometheusServer) -> Iterator[MetricsProject]:  # noqa: F811
    """The metricsapi service failing and slow from the start, scraped by `prometheus` (job `compose`)."""
    ensure_image()
    name = f"ajmt{uuid.uuid4().hex[:8]}"
    folder = Path("/tmp/ajudaplay-ct") / name
    os.makedirs(folder.parent, mode=0o1777, exist_ok=True)
    folder.mkdir()
    shutil.copy(PROJECT_FILE, folder / "docker-compose.yml")

    def compose(*args: str) -> str:
        done = subprocess.run(["docker-compose", "-p", name, *args], cwd=folder, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    try:
        compose("up", "-d")
        container = wait_healthy(name)
        project = MetricsProject(name, folder, container, compose("port", "api", "8080").strip())
        project.ctl("fail", str(FAIL_PER_TICK))
        project.ctl("slow", str(SLOW_MS))
        prometheus.scrape(static_job("compose", project.address))
        yield project
    finally:
        subprocess.run(["docker-compose", "-p", name, "down", "-t", "1"], cwd=folder, capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="package")
def ready(prometheus: PrometheusServer, compose_metrics: MetricsProject) -> MetricsProject:
    """Once Prometheus computes the 5xx ratio (over 0.05) and the p95 (over 1 s) of the project."""
    prometheus.wait_for(RATIO_QUERY, lambda v: v is not None and v > 0.05, timeout=60)
    prometheus.wait_for(P95_QUERY, lambda v: v is not None and v > 1.0, timeout=30)
    return compose_metrics
