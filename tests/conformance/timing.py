"""Wall time per mode: provisioning and each scenario, summed for the end-of-run summary."""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Iterator


class Times:
    """Seconds spent per (mode, phase); phases are "provision" and the scenario names."""

    def __init__(self) -> None:
        self.seconds: dict[str, dict[str, float]] = defaultdict(dict)

    @contextmanager
    def measure(self, mode: str, phase: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.seconds[mode][phase] = self.seconds[mode].get(phase, 0.0) + time.monotonic() - started

    def lines(self) -> list[str]:
        if not self.seconds:
            return []
        out = ["conformance wall time per mode (provision + scenarios):"]
        for mode, phases in self.seconds.items():
            slowest = sorted(phases.items(), key=lambda kv: -kv[1])[:3]
            detail = ", ".join(f"{name} {secs:.1f}s" for name, secs in slowest)
            out.append(f"  {mode}: {sum(phases.values()):.1f}s (slowest: {detail})")
        return out


TIMES = Times()
