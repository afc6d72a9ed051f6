"""A `timeout:` whose action does not stop in time: the target is given up, and its lock waits for the action.

The action is a real `http` call to a real (slow) HTTP server on loopback:
urllib does not watch the step's cancel event, so the call outlives the step
the way a stuck client library would.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ajudaplay.engine import step as step_module
from tests.engine.conftest import Harness, fakes

SLOW = 4.0  # seconds the server takes to answer


@pytest.fixture
def slow_url() -> Iterator[tuple[str, list[float]]]:
    answered: list[float] = []

    class Slow(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(SLOW)
            self.send_response(200)
            self.end_headers()
            answered.append(time.time())

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", answered
    finally:
        server.shutdown()
        server.server_close()


def test_an_action_that_outlives_its_timeout_stops_the_target_and_holds_the_lock(
    h: Harness, slow_url: tuple[str, list[float]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ajudaplay.actions import host

    host.register(h.registry)  # `http` besides the engine tests' actions
    monkeypatch.setattr(step_module, "STOP_GRACE", 0.5, raising=False)
    url, answered = slow_url
    playbook = f"""
    - hosts: all
      tasks:
        - {{name: first, status: {{service: api}}}}
        - {{name: stuck, http: {{url: "{url}", timeout: 30}}, timeout: 1, retries: 3, delay: 0, ignore_errors: true}}
        - {{name: after, status: {{service: api}}}}
    """
    started = time.monotonic()
    summary = h.run(playbook, fakes(1))
    took = time.monotonic() - started
    stuck = h.collector.results("stuck", "t1")
    assert len(stuck) == 1 and stuck[0].status == "ignored"
    assert "still running" in stuck[0].result.msg and "nothing more runs on this target" in stuck[0].result.msg
    assert h.collector.results("after", "t1") == []  # never beside the stuck action
    assert summary.exit_code == 0  # ignore_errors: the run itself did not fail
    assert took < SLOW + 3  # one attempt only: no retry beside the action still running
    # The lock was released only once the action had returned.
    release = [c for c in h.targets["t1"].calls if c.method == "release_lock"]
    assert answered and release and release[0].started >= answered[0]


def test_an_action_that_stops_in_time_lets_the_next_task_run(h: Harness) -> None:
    playbook = """
    - hosts: all
      tasks:
        - {name: slow, status: {service: api}, timeout: 0.5, ignore_errors: true}
        - {name: after, status: {service: api}}
    """
    h.run(playbook, fakes(1, delay=1.5))  # in a step, the fake's delay waits on the cancel event: it stops at once
    assert h.collector.status("slow", "t1") == "ignored"
    assert h.collector.results("slow", "t1")[0].result.msg == "timed out after 0.5s"
    assert len(h.collector.results("after", "t1")) == 1
