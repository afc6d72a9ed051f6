"""Prometheus instant queries (`/api/v1/query`), the runbook's PromQL checks from the controller.

One call, one answer: `query(url, promql)` returns the samples (a vector's series or a scalar; a
range vector's newest point per series) with their labels. What can go wrong is told apart, because
the on-call engineer fixes each differently:
- Prometheus refused the query (bad PromQL, unknown function): PrometheusError with Prometheus's
  own `error` text;
- the URL answers but is no Prometheus API (an HTML page, a 404 from a proxy): PrometheusError
  saying which URL form is expected;
- nothing answers (refused, timed out, bad host): `web.WebError` from the one HTTP client.
An empty result is no error: the series simply do not exist (yet) in the window.

A password in the URL's user-info is sent as HTTP basic auth and masked in every message; the
query string never appears in messages (web.shown_url). The answer is data, never a template.
"""

from __future__ import annotations

import base64
import math
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Iterable

from ajudaplay.integrations.web import WebError, request, shown_url

__all__ = ["PrometheusError", "QueryResult", "Sample", "WebError", "api_url", "credentials", "query"]

API_PATH = "/api/v1/query"


class PrometheusError(Exception):
    """Prometheus (or whatever answered at the URL) gave no usable result; the text says why."""


@dataclass(frozen=True)
class Sample:
    """One series of the answer: its labels and value (None for NaN or ±Inf, which JSON cannot carry)."""

    metric: dict[str, str]
    value: float | None
    raw: str = ""  # the value as Prometheus wrote it ("NaN", "+Inf", "0.25")

    def as_data(self) -> dict[str, Any]:
        return {"metric": dict(self.metric), "value": self.value}


@dataclass(frozen=True)
class QueryResult:
    """An instant query's answer: the result type and its samples, in Prometheus's order."""

    promql: str
    result_type: str  # vector, scalar, matrix or string
    samples: list[Sample] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def value(self) -> float | None:
        """The first sample's value: the answer of a query that aggregates to one series (sum, ratio, quantile)."""
        return self.samples[0].value if self.samples else None

    @property
    def empty(self) -> bool:
        return not self.samples

    @property
    def not_a_number(self) -> bool:
        """Every sample is NaN (0/0: no requests at all in the window), so there is no value to compare."""
        return bool(self.samples) and all(s.value is None and s.raw.lower() == "nan" for s in self.samples)


def api_url(url: str) -> str:
    """The query endpoint for a Prometheus base URL (http://prom:9090, http://host/prometheus/, or the endpoint itself)."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PrometheusError(f"{shown_url(url)!r} is not an http(s) URL of a Prometheus server "
                              "(expected e.g. http://prometheus:9090)")
    path = parts.path.rstrip("/")
    if not path.endswith(API_PATH):
        path += API_PATH
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def credentials(url: str) -> tuple[str, dict[str, str], list[str]]:
    """(the URL without user-info, the basic-auth header it asked for, the secrets to mask)."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, {}, []
    user = urllib.parse.unquote(parts.username or "")
    password = urllib.parse.unquote(parts.password or "")
    netloc = parts.netloc.rsplit("@", 1)[1]
    bare = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return bare, {"Authorization": f"Basic {token}"}, [s for s in (password, token) if s]


def _number(raw: Any) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _samples(result_type: str, result: Any) -> list[Sample]:
    if result_type == "scalar" and isinstance(result, list) and len(result) == 2:
        return [Sample({}, _number(result[1]), str(result[1]))]
    if result_type == "string" and isinstance(result, list) and len(result) == 2:
        return [Sample({"value": str(result[1])}, None, str(result[1]))]
    samples: list[Sample] = []
    for entry in result if isinstance(result, list) else []:
        if not isinstance(entry, dict):
            continue
        metric = {str(k): str(v) for k, v in (entry.get("metric") or {}).items()}
        if "value" in entry:
            point = entry["value"]
        else:  # a range vector (matrix): its newest point
            values = entry.get("values") or []
            point = values[-1] if values else [None, None]
        raw = point[1] if isinstance(point, list) and len(point) == 2 else None
        samples.append(Sample(metric, _number(raw), str(raw)))
    return samples


def query(url: str, promql: str, *, timeout: float = 10.0, secrets: Iterable[str] = (), verify: bool = True) -> QueryResult:
    """Run one instant query against the Prometheus at `url`; see the module docstring for the errors."""
    bare, headers, hidden = credentials(url)
    masked = [*secrets, *hidden]
    endpoint = api_url(bare)
    where = shown_url(endpoint, masked)
    reply = request(endpoint + "?" + urllib.parse.urlencode({"query": promql}), "GET",
                    headers={"Accept": "application/json", **headers}, timeout=timeout, verify=verify, secrets=masked)
    body = reply.json()
    if not isinstance(body, dict) or "status" not in body:
        hint = (" (the URL is the server's base, e.g. http://prometheus:9090, or ends in /api/v1/query)"
                if reply.status in (200, 301, 302, 404) else "")
        raise PrometheusError(f"{where} answered HTTP {reply.status} without a Prometheus API reply{hint}")
    if body.get("status") != "success":
        kind = body.get("errorType") or f"HTTP {reply.status}"
        raise PrometheusError(f"{where}: Prometheus refused the query ({kind}): {body.get('error') or 'no error text'}")
    data = body.get("data") or {}
    result_type = str(data.get("resultType") or "vector")
    warnings = [str(w) for w in body.get("warnings") or []]
    return QueryResult(promql, result_type, _samples(result_type, data.get("result")), warnings, reply.seconds)
