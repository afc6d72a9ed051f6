"""The Prometheus client and the `prometheus` action against a real Prometheus (Debian's package).

The Prometheus of tests/metrics/conftest.py scrapes the metricsapi Compose service every second; the
service fails half its requests and takes 2 s per request, so the runbook's 5xx ratio is 0.5 and
the p95 2.425 s. The action is called in-process (it runs on the controller and touches no target).
Only the basic-auth case uses a stand-in, a local HTTP server answering 401: the test Prometheus has
no authentication configured, and the case is about what the error message holds.
"""

from __future__ import annotations

import base64
import http.server
import socket
import threading
from typing import Any, Iterator

import pytest

from ajudaplay.actions.base import ActionContext, default_registry
from ajudaplay.actions.metrics import run_prometheus
from ajudaplay.errors import TargetError
from ajudaplay.integrations import prometheus
from ajudaplay.integrations.web import WebError
from ajudaplay.results import Result
from ajudaplay.targets.base import StepContext
from tests.infra.prometheus.server import PrometheusServer
from tests.metrics.conftest import P95, P95_QUERY, RATIO, RATIO_QUERY, MetricsProject

pytestmark = pytest.mark.docker

PrometheusErrorType = prometheus.PrometheusError
NO_SUCH = 'sum(rate(no_such_metric_total{job="nowhere"}[5m]))'


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def act(args: dict[str, Any], variables: dict[str, Any] | None = None, secrets: list[Any] | None = None) -> Result:
    step = StepContext(run_id="t", check=False, timeout=None, cancel=threading.Event(), log=lambda m: None, user="t")
    ctx = ActionContext(target=None, step=step, vars=variables or {}, render=lambda v: v,  # type: ignore[arg-type]
                        add_secret=(secrets if secrets is not None else []).append)
    return run_prometheus(ctx, args)


# the client --------------------------------------------------------------------------------------------
def test_vector_query_over_the_counters_has_each_series_with_its_labels(
        prometheus: PrometheusServer, ready: MetricsProject) -> None:
    answer = prometheus_query(prometheus.url, "http_requests_total")
    assert answer.result_type == "vector"
    by_status = {s.metric["status"]: s for s in answer.samples}
    assert sorted(by_status) == ["200", "500"]
    assert by_status["500"].metric["job"] == "compose" and by_status["500"].metric["__name__"] == "http_requests_total"
    assert by_status["500"].value is not None and by_status["500"].value > 0


def test_the_runbooks_ratio_and_p95_and_a_scalar(prometheus: PrometheusServer, ready: MetricsProject) -> None:
    ratio = prometheus_query(prometheus.url + "/", RATIO_QUERY)  # a trailing slash is the same server
    assert ratio.value == pytest.approx(RATIO, abs=0.02) and ratio.samples[0].metric == {}
    assert prometheus_query(prometheus.url + "/api/v1/query", P95_QUERY).value == pytest.approx(P95, abs=0.01)
    scalar = prometheus_query(prometheus.url, "scalar(vector(2.5))")
    assert (scalar.result_type, scalar.value) == ("scalar", 2.5)
    nan = prometheus_query(prometheus.url, "vector(0) / vector(0)")
    assert nan.not_a_number and nan.value is None and nan.samples[0].raw == "NaN"


def test_no_data_is_an_empty_answer(prometheus: PrometheusServer) -> None:
    answer = prometheus_query(prometheus.url, NO_SUCH)
    assert answer.empty and answer.value is None and answer.samples == []


def test_bad_promql_is_prometheuss_own_error_text(prometheus: PrometheusServer) -> None:
    with pytest.raises(PrometheusErrorType) as err:
        prometheus_query(prometheus.url, "sum(rate(http_requests_total[5m])")
    text = str(err.value)
    assert "Prometheus refused the query (bad_data)" in text and "parse error" in text, text
    assert text.startswith(f"{prometheus.url}/api/v1/query: Prometheus refused")  # the URL without its query string


def test_unreachable_and_not_a_prometheus(prometheus: PrometheusServer, ready: MetricsProject) -> None:
    with pytest.raises(WebError, match="Connection refused|refused"):
        prometheus_query(f"http://127.0.0.1:{closed_port()}", "up")
    with pytest.raises(PrometheusErrorType, match=r"answered HTTP 404 without a Prometheus API reply \(the URL is"):
        prometheus_query(f"http://{ready.address}", "up")  # the service itself: busybox httpd says 404
    with pytest.raises(PrometheusErrorType, match="is not an http"):
        prometheus_query("ftp://127.0.0.1/", "up")


def prometheus_query(url: str, promql: str) -> prometheus.QueryResult:
    return prometheus.query(url, promql, timeout=5)


# the action --------------------------------------------------------------------------------------------
def test_registered_and_shipped(prometheus: PrometheusServer) -> None:
    spec = default_registry().get("prometheus")
    assert spec is not None and spec.controller
    assert sorted(spec.schema["properties"]) == ["max", "min", "query", "timeout", "url"]


def test_url_from_the_metrics_variable_and_a_value_within_thresholds(
        prometheus: PrometheusServer, ready: MetricsProject) -> None:
    done = act({"query": RATIO_QUERY, "min": 0.1, "max": "0.9"}, {"metrics": {"prometheus": prometheus.url}})
    assert not done.failed, done.msg
    assert done.data["value"] == pytest.approx(RATIO, abs=0.02)
    assert done.data["breached"] is False and done.data["error"] is None and done.data["query"] == RATIO_QUERY
    assert done.data["results"] == [{"metric": {}, "value": done.data["value"]}]
    assert done.msg.startswith("value 0.") and "within min 0.1 and max 0.9" in done.msg


def test_above_max_and_below_min_fail_naming_value_and_threshold(
        prometheus: PrometheusServer, ready: MetricsProject) -> None:
    high = act({"query": RATIO_QUERY, "max": 0.05, "url": prometheus.url})
    assert high.failed and high.data["breached"] is True
    assert high.msg.startswith(f"value {high.data['value']:.6g} is above max 0.05: sum(rate("), high.msg
    per_series = act({"query": "http_requests_total", "min": 1e12, "url": prometheus.url})
    assert per_series.failed and per_series.data["breached"] is True and len(per_series.data["results"]) == 2
    assert "is below min 1e+12 for http_requests_total{" in per_series.msg and 'status="' in per_series.msg
    assert "(and 1 more series)" in per_series.msg


def test_no_data_fails_only_with_a_threshold(prometheus: PrometheusServer) -> None:
    plain = act({"query": NO_SUCH, "url": prometheus.url})
    assert not plain.failed and plain.data["value"] is None and plain.data["results"] == []
    assert plain.msg.startswith("the query returned no data")
    limited = act({"query": NO_SUCH, "url": prometheus.url, "max": 1})
    assert limited.failed and not limited.data["breached"]
    assert limited.msg.startswith("the query returned no data, so there is nothing to compare with the threshold: "
                                  "check that the metric names")
    nan = act({"query": "vector(0) / vector(0)", "url": prometheus.url, "max": 1})
    assert nan.failed and "returned NaN" in nan.msg


def test_bad_promql_and_unreachable_fail_with_a_message_and_error(prometheus: PrometheusServer) -> None:
    bad = act({"query": "rate(", "url": prometheus.url})
    assert bad.failed and "parse error" in bad.msg and bad.data["error"] and bad.data["value"] is None
    gone = act({"query": "up", "url": f"http://127.0.0.1:{closed_port()}", "max": 1})
    assert gone.failed and "refused" in gone.msg and gone.data["error"] == gone.msg


def test_bad_arguments_are_clear() -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"query": "up"}, "not given, and the variable metrics.prometheus is not defined"),
        ({"query": " ", "url": "http://x"}, "prometheus.query: required"),
        ({"query": "up", "url": "http://x", "max": "lots"}, "prometheus.max: expected a number, got 'lots'"),
        ({"query": "up", "url": "http://x", "min": 2, "max": 1}, "min (2) is greater than max (1)"),
        ({"query": "up", "url": "http://x", "timeout": 0}, "prometheus.timeout: expected a number of seconds > 0")]
    for args, message in cases:
        with pytest.raises(TargetError, match=message.replace("(", r"\(").replace(")", r"\)")):
            act(args)


@pytest.fixture
def basic_auth_server() -> Iterator[str]:
    """A stand-in answering 401 to every request (see the module docstring)."""

    class Refuse(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            self.send_response(401)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(f"unauthorized: {self.headers.get('Authorization')}".encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_a_password_in_the_url_is_sent_as_basic_auth_and_never_shown(basic_auth_server: str) -> None:
    password = "s3cr3t-Pass/word"
    secrets: list[Any] = []
    done = act({"query": "up", "url": f"http://ops:{password.replace('/', '%2F')}@{basic_auth_server}/prom"},
               secrets=secrets)
    token = base64.b64encode(f"ops:{password}".encode()).decode()
    assert password in secrets and token in secrets  # masked in every output from before the request
    assert done.failed and "answered HTTP 401 without a Prometheus API reply" in done.msg
    for text in (done.msg, str(done.data)):
        assert password not in text and token not in text and "ops:" not in text
    assert done.data["url"] == f"http://{basic_auth_server}/prom"
