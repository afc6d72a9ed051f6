"""A real Prometheus (Debian's `prometheus` package) on loopback, for the metrics tests.

Each server has its own data folder and a scrape config the test writes (scrape and evaluation
interval 1 s), listens on 127.0.0.1:<free port> and is stopped afterwards (it also dies with the test
process). Scrape jobs are added and removed while it runs (`scrape()` rewrites the config and POSTs
/-/reload), so one server serves a whole test session. `wait_for()` polls an instant query until the
answer satisfies the test, which is how a test knows the samples it needs have been scraped.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable

__all__ = ["PrometheusError", "PrometheusServer", "free_port", "kubernetes_pod_job", "static_job"]

BINARY = os.environ.get("AJUDAPLAY_PROMETHEUS", "prometheus")


class PrometheusError(RuntimeError):
    """The server could not start, reload or answer (its log tail is in the message)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def static_job(name: str, address: str, metrics_path: str = "/metrics") -> dict[str, Any]:
    """A scrape job for one plain-HTTP target on loopback (a Compose service's published port)."""
    return {"job_name": name, "metrics_path": metrics_path, "static_configs": [{"targets": [address]}]}


def kubernetes_pod_job(name: str, server: str, ca_file: Path | str, token: str, namespace: str, pod: str,
                       port: int = 8080) -> dict[str, Any]:
    """A scrape job reaching a pod through the API server's pod proxy (https, the test CA, a bearer token).

    Prometheus never talks to the pod's bridge address: the API server proxies the request, as it does
    for `kubectl get --raw /api/v1/namespaces/NS/pods/POD:PORT/proxy/metrics`.
    """
    address = urllib.parse.urlsplit(server).netloc
    return {
        "job_name": name, "scheme": "https",
        "metrics_path": f"/api/v1/namespaces/{namespace}/pods/{pod}:{port}/proxy/metrics",
        "tls_config": {"ca_file": str(ca_file)},
        "authorization": {"type": "Bearer", "credentials": token},
        "static_configs": [{"targets": [address], "labels": {"namespace": namespace, "pod": pod}}],
    }


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """SIGTERM the server when the test process dies (Linux prctl PR_SET_PDEATHSIG)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except OSError:
        pass


class PrometheusServer:
    """`prometheus` on 127.0.0.1 with a config written here; start(), scrape(...), query(...), stop()."""

    def __init__(self, workdir: Path | str | None = None, ready_timeout: float = 30.0) -> None:
        self._own_dir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="ajudaplay-prometheus-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ready_timeout = ready_timeout
        self.jobs: dict[str, dict[str, Any]] = {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.workdir / "prometheus.log"

    @property
    def config_file(self) -> Path:
        return self.workdir / "prometheus.yml"

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # lifecycle ------------------------------------------------------------------------------------
    def start(self) -> PrometheusServer:
        if shutil.which(BINARY) is None:
            raise PrometheusError(f"{BINARY} not found: run tests/infra/prometheus/setup.sh (apt-get install prometheus)")
        self._write_config()
        (self.workdir / "data").mkdir(exist_ok=True)
        argv = [BINARY, f"--config.file={self.config_file}", f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}", "--web.enable-lifecycle",
                "--storage.tsdb.retention.time=1h", "--log.level=warn"]
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + self.ready_timeout
        while True:
            if self.proc.poll() is not None:
                raise PrometheusError(f"prometheus exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                if self._get("/-/ready", timeout=1).startswith(b"Prometheus"):
                    return self
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise PrometheusError(f"prometheus not ready within {self.ready_timeout:g}s:\n{self.log_tail()}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # scrape jobs ----------------------------------------------------------------------------------
    def scrape(self, *jobs: dict[str, Any]) -> None:
        """Add (or replace, by job_name) scrape jobs and reload the running server."""
        for job in jobs:
            self.jobs[str(job["job_name"])] = job
        self._reload()

    def forget(self, *names: str) -> None:
        for name in names:
            self.jobs.pop(name, None)
        self._reload()

    def _write_config(self) -> None:
        config = {"global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
                  "scrape_configs": list(self.jobs.values())}
        self.config_file.write_text(json.dumps(config, indent=2))  # JSON is YAML

    def _reload(self) -> None:
        self._write_config()
        if self.proc is None:
            return
        req = urllib.request.Request(f"{self.url}/-/reload", method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10):
                pass
        except urllib.error.HTTPError as exc:
            raise PrometheusError(f"reload refused ({exc.code}): {exc.read().decode(errors='replace')}") from None

    # queries --------------------------------------------------------------------------------------
    def _get(self, path: str, timeout: float = 5) -> bytes:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=timeout) as resp:
            body: bytes = resp.read()
            return body

    def query(self, promql: str) -> list[dict[str, Any]]:
        """The instant query's result list (vector entries; a scalar as one entry without labels)."""
        body = json.loads(self._get("/api/v1/query?" + urllib.parse.urlencode({"query": promql})))
        data = body["data"]
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def value(self, promql: str) -> float | None:
        """The first sample's value of an instant query, None when it returns nothing."""
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None

    def targets_health(self) -> dict[str, str]:
        """{job: health} of the active targets ("up", "down", "unknown")."""
        body = json.loads(self._get("/api/v1/targets?state=active"))
        return {t["labels"]["job"]: f"{t['health']} {t.get('lastError', '')}".strip()
                for t in body["data"]["activeTargets"]}

    def wait_for(self, promql: str, ok: Callable[[float | None], bool], timeout: float = 30.0) -> float | None:
        """Poll `promql` until `ok(value)`; raises with the targets' health when it never does."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.value(promql)
            if ok(value):
                return value
            if time.monotonic() > deadline:
                raise PrometheusError(f"{promql} = {value} after {timeout:g}s; targets: {self.targets_health()}")
            time.sleep(0.25)
