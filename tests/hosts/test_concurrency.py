"""Fan-out proof: commands on many SSH hosts overlap in time; one slow host blocks no one else."""

from __future__ import annotations

import threading
import time
from typing import Any

from ajudaplay.hosts.base import HostConnection
from ajudaplay.hosts.pyinfra_host import connect_host
from tests.hosts.conftest import ssh_connection

N_HOSTS = 15


def _connect_all(sshd: Any, n: int) -> list[HostConnection]:
    """Connect to n loopback 'hosts' (127.0.0.x, user ajtest0x) in parallel."""
    hosts: list[HostConnection | None] = [None] * n

    def one(i: int) -> None:
        hosts[i] = connect_host(ssh_connection(sshd, user=f"ajtest{i + 1:02d}", addr=f"127.0.0.{i + 1}"), f"h{i}")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(h is not None for h in hosts)
    return [h for h in hosts if h is not None]


def test_fan_out_commands_overlap(sshd: Any) -> None:
    hosts = _connect_all(sshd, N_HOSTS)
    intervals: dict[int, tuple[float, float]] = {}
    users: dict[int, str] = {}

    def run(i: int, host: HostConnection) -> None:
        start = time.monotonic()
        res = host.run("sleep 0.5; whoami")
        intervals[i] = (start, time.monotonic())
        users[i] = res.stdout.strip()

    try:
        threads = [threading.Thread(target=run, args=(i, h)) for i, h in enumerate(hosts)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for h in hosts:
            h.close()
    assert users == {i: f"ajtest{i + 1:02d}" for i in range(N_HOSTS)}
    latest_start = max(s for s, _ in intervals.values())
    earliest_end = min(e for _, e in intervals.values())
    # Every command was running at the same moment: all started before any finished.
    assert latest_start < earliest_end, sorted(intervals.values())


def test_slow_command_does_not_block_another_connection_or_channel(sshd: Any) -> None:
    slow_host, fast_host = _connect_all(sshd, 2)
    done: dict[str, float] = {}

    def slow() -> None:
        slow_host.run("sleep 1.5")
        done["slow"] = time.monotonic()

    try:
        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.1)
        started = time.monotonic()
        for _ in range(5):
            assert fast_host.run("echo hi").stdout == "hi\n"
            assert slow_host.run("echo same-connection").ok  # a second channel on the busy connection
        done["fast"] = time.monotonic()
        t.join()
    finally:
        slow_host.close()
        fast_host.close()
    assert done["fast"] < done["slow"], "the fast commands waited for the slow one"
    assert done["fast"] - started < 1.0
