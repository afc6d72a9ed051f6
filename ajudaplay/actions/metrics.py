"""The `prometheus` action: one PromQL instant query from the controller, with optional thresholds.

The runbook's "High Error Rate" and "High Response Time" sections read two numbers from Prometheus
(the 5xx ratio, the p95 latency) and compare them with a limit. This action does exactly that:
`value` (the first series' number), every series as `results`, and `breached` when a series is
outside `min`/`max`, which fails the step with the value and the threshold in its message. The URL
defaults to the variable `metrics.prometheus`, so an inventory names its Prometheus once.
Read-only: it runs in check mode too. No data is an answer (value null) unless a threshold was
asked for: then there is nothing to compare, and the step fails saying what to check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ajudaplay.actions.base import ActionSpec, Registry
from ajudaplay.errors import TargetError
from ajudaplay.results import Result

if TYPE_CHECKING:
    from ajudaplay.actions.base import ActionContext
    from ajudaplay.integrations.prometheus import QueryResult, Sample

__all__ = ["register", "run_prometheus"]

DEFAULT_TIMEOUT = 10.0
NO_DATA_HINT = ("check that the metric names and labels exist (Prometheus's /graph), that the service is scraped "
                "(`up` is 1 for its job) and that the window (e.g. [5m]) holds samples")


def register(registry: Registry) -> None:
    """Add the metrics actions to `registry`."""
    registry.register(ActionSpec("prometheus", run_prometheus, controller=True,
                                 description="Run a PromQL instant query; fail when the value is outside min/max."))


def _url(ctx: ActionContext, a: Mapping[str, Any]) -> str:
    value = a.get("url")
    if value in (None, ""):
        metrics = ctx.vars.get("metrics")
        value = metrics.get("prometheus") if isinstance(metrics, Mapping) else None
        if value in (None, ""):
            raise TargetError("prometheus.url: not given, and the variable metrics.prometheus is not defined "
                              "(set `metrics: {prometheus: http://prometheus:9090}` in the inventory's vars)")
    return str(value).strip()


def _number(key: str, value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise TargetError(f"prometheus.{key}: expected a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TargetError(f"prometheus.{key}: expected a number, got {value!r}") from None


def _shown(value: float | None) -> str:
    return "null" if value is None else f"{value:.6g}"


def _labels(sample: Sample) -> str:
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(sample.metric.items()) if k != "__name__")
    return f"{sample.metric.get('__name__', '')}{{{inner}}}" if inner or "__name__" in sample.metric else ""


def _outside(value: float, low: float | None, high: float | None) -> str | None:
    """Why `value` breaches the thresholds ("above max 0.05"), or None."""
    if high is not None and value > high:
        return f"above max {_shown(high)}"
    if low is not None and value < low:
        return f"below min {_shown(low)}"
    return None


def run_prometheus(ctx: ActionContext, args: Any) -> Result:
    """prometheus: {query, url, min, max, timeout}; registers value, results, breached, query."""
    from ajudaplay.integrations import prometheus
    from ajudaplay.integrations.web import WebError, shown_url

    if not isinstance(args, Mapping):
        raise TargetError(f"prometheus: expected a mapping of arguments, got {type(args).__name__}")
    promql = str(args.get("query") or "").strip()
    if not promql:
        raise TargetError("prometheus.query: required, a PromQL expression (e.g. sum(rate(http_requests_total[5m])))")
    url = _url(ctx, args)
    _, _, hidden = prometheus.credentials(url)
    for secret in hidden:  # a password in the URL: masked before anything can print it
        ctx.add_secret(secret)
    low, high = _number("min", args.get("min")), _number("max", args.get("max"))
    if low is not None and high is not None and low > high:
        raise TargetError(f"prometheus: min ({_shown(low)}) is greater than max ({_shown(high)})")
    timeout = _number("timeout", args.get("timeout"))
    if timeout is not None and timeout <= 0:
        raise TargetError(f"prometheus.timeout: expected a number of seconds > 0, got {args.get('timeout')!r}")
    where = shown_url(url)
    data: dict[str, Any] = {"query": promql, "url": where, "value": None, "results": [], "breached": False,
                            "error": None}
    try:
        answer = prometheus.query(url, promql, timeout=timeout or DEFAULT_TIMEOUT)
    except (prometheus.PrometheusError, WebError) as exc:
        data["error"] = str(exc)  # a later step tells "could not ask" from "no data" by it
        return Result(failed=True, msg=str(exc), data=data)  # the text names the URL (no query string, no secret)
    return _verdict(answer, low, high, data)


def _verdict(answer: QueryResult, low: float | None, high: float | None, data: dict[str, Any]) -> Result:
    data.update(value=answer.value, results=[s.as_data() for s in answer.samples], elapsed=round(answer.seconds, 3))
    limits = low is not None or high is not None
    result = Result(data=data, warnings=[f"prometheus: {w}" for w in answer.warnings])
    if answer.empty or answer.not_a_number:
        why = "the query returned no data" if answer.empty else "the query returned NaN (0/0: nothing counted in the window)"
        result.msg = f"{why}: {answer.promql}"
        if limits:
            result.failed = True
            result.msg = f"{why}, so there is nothing to compare with the threshold: {NO_DATA_HINT}"
        return result
    breaches = [(s, why) for s in answer.samples if s.value is not None
                for why in [_outside(s.value, low, high)] if why]
    data["breached"] = bool(breaches)
    if breaches:
        sample, why = breaches[0]
        series = _labels(sample)
        more = f" (and {len(breaches) - 1} more series)" if len(breaches) > 1 else ""
        result.failed = True
        result.msg = f"value {_shown(sample.value)} is {why}{' for ' + series if series else ''}{more}: {answer.promql}"
        return result
    count = len(answer.samples)
    limit = " within " + " and ".join(p for p in (
        f"min {_shown(low)}" if low is not None else "", f"max {_shown(high)}" if high is not None else "") if p) \
        if limits else ""
    result.msg = f"value {_shown(answer.value)}{limit}" + (f" ({count} series)" if count > 1 else "")
    return result
