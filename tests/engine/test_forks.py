"""--forks: a default sized for the machine, and a value above the number of targets is harmless."""

from __future__ import annotations

import os
import resource
import threading

import pytest

from ajudaplay.engine.options import RunOptions, default_forks
from ajudaplay.exitcodes import ExitCode
from tests.engine.conftest import Harness, fakes


@pytest.mark.parametrize(("cpus", "nofile", "expected"), [
    (2, 1024, 20),      # this kind of machine: 10 per CPU
    (1, 1024, 10),
    (64, 1 << 20, 200),  # capped
    (16, 256, 32),      # the open-file limit leaves room for 256 / 8 targets
    (4, 16, 5),         # never below 5
])
def test_the_default_follows_the_cpus_and_the_open_file_limit(
        monkeypatch: pytest.MonkeyPatch, cpus: int, nofile: int, expected: int) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cpus)))
    monkeypatch.setattr(resource, "getrlimit", lambda which: (nofile, resource.RLIM_INFINITY))
    assert default_forks() == expected
    assert RunOptions().forks == expected


def test_an_unlimited_open_file_limit_leaves_the_cpu_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2})
    monkeypatch.setattr(resource, "getrlimit", lambda which: (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    assert default_forks() == 30


def test_forks_far_above_the_targets_runs_each_once_and_starts_no_more_threads(h: Harness) -> None:
    before = threading.active_count()
    peak = [before]

    original = threading.Thread.start

    def counting_start(self: threading.Thread) -> None:
        original(self)
        peak[0] = max(peak[0], threading.active_count())

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(threading.Thread, "start", counting_start)
        summary = h.run("- hosts: all\n  tasks:\n    - {name: s, status: {service: api}}\n", fakes(3), forks=1000)
    assert summary.exit_code == ExitCode.OK
    assert [len([c for c in t.calls if c.method == "status"]) for t in h.targets.values()] == [1, 1, 1]
    assert peak[0] - before <= 3 + 4, (before, peak[0])  # one worker per target, plus the run's own few
