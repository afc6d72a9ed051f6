"""Conformance scenarios of the network verb (issue 10): appended to scenarios.SCENARIOS.

`endpoints` answers the same shape on every mode (docs/actions-network.md, "Registered data"):
the suite's service has a Kubernetes Service `api` (port 80 -> 8080) in front of it on Kubernetes
and no `hosts:` anywhere, so `hosts` is empty everywhere; every mode has at least one ready address. `http from: service` reaches the service's
own loopback with the image's busybox wget on the real modes.
"""

from __future__ import annotations

from typing import Any

from tests.conformance.scenarios import FAKE_EXEC, Scenario, Step, _s

ADDRESS: dict[str, Any] = {"address": (str, None), "port": int, "protocol": str, "where": str}
PORT: dict[str, Any] = {"name": str, "port": int, "target_port": (int, str), "protocol": str, "published": [str]}
ENDPOINTS: dict[str, Any] = {"service": str, "ready": [ADDRESS], "not_ready": [ADDRESS], "ports": [PORT],
                             "internal_urls": [str], "hosts": [str]}
HTTP_INSIDE: dict[str, Any] = {"status": int, "elapsed": (int, float), "tool": str, "url": str}

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("endpoints", (
        Step("e", "endpoints", _s(), "ok", ENDPOINTS, {"service": "{{ svc }}", "hosts": []}),
        Step("ready", "assert", {"that": ["e.ready | length >= 1", "e.internal_urls | length >= 1"]}, "ok"),
    )),
    Scenario("http-from-service", (
        Step("h", "http", _s(url="http://127.0.0.1:8080/health", **{"from": "service"}, timeout=20), "ok", HTTP_INSIDE,
             {"status": 200, "tool": "wget"}),
    ), xfail={"fake": FAKE_EXEC}, agree_xfail={"fake": FAKE_EXEC}),
)
