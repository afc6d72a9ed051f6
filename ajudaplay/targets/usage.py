"""The registered data of `usage` (the runbook's `kubectl top pods`), the same keys on every mode.

    pods:    [{pod, container, cpu_millicores, memory_bytes, cpu_limit_millicores, cpu_percent,
               memory_limit_bytes, memory_percent}]   Compose: pod = the container's name, container = the service
    totals:  {cpu_millicores, memory_bytes, cpu_limit_millicores, cpu_percent, memory_limit_bytes, memory_percent}
    missing: pods/containers of the service that gave no numbers (not running yet, just restarted)
    source:  where the numbers come from (metrics.k8s.io, kubelet stats/summary, docker stats)

A limit is None when there is none; its percentage then too. Memory is the working set
(what the OOM killer and `kubectl top` count); CPU is in millicores (1000 = one core).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ajudaplay.outcomes import UsageOutcome


@dataclass(frozen=True)
class Sample:
    """One container's usage and limits, as a mode measured them."""

    pod: str
    container: str
    cpu_millicores: float
    memory_bytes: int
    cpu_limit_millicores: float | None = None
    memory_limit_bytes: int | None = None


def _percent(used: float, limit: float | None) -> float | None:
    return round(100.0 * used / limit, 1) if limit else None


def _row(s: Sample) -> dict[str, Any]:
    return {
        "pod": s.pod,
        "container": s.container,
        "cpu_millicores": round(s.cpu_millicores, 1),
        "memory_bytes": s.memory_bytes,
        "cpu_limit_millicores": s.cpu_limit_millicores,
        "cpu_percent": _percent(s.cpu_millicores, s.cpu_limit_millicores),
        "memory_limit_bytes": s.memory_limit_bytes,
        "memory_percent": _percent(s.memory_bytes, s.memory_limit_bytes),
    }


def _totals(samples: list[Sample]) -> dict[str, Any]:
    cpu = sum(s.cpu_millicores for s in samples)
    memory = sum(s.memory_bytes for s in samples)
    all_cpu = bool(samples) and all(s.cpu_limit_millicores for s in samples)
    all_mem = bool(samples) and all(s.memory_limit_bytes for s in samples)
    cpu_limit = sum(s.cpu_limit_millicores or 0 for s in samples) if all_cpu else None
    memory_limit = sum(s.memory_limit_bytes or 0 for s in samples) if all_mem else None
    return {"cpu_millicores": round(float(cpu), 1), "memory_bytes": memory,
            "cpu_limit_millicores": cpu_limit, "cpu_percent": _percent(cpu, cpu_limit),
            "memory_limit_bytes": memory_limit, "memory_percent": _percent(memory, memory_limit)}


def mib(n: float) -> str:
    return f"{n / 1048576:.1f}MiB"


def usage_outcome(service: str, samples: list[Sample], source: str, missing: list[str],
                  warnings: list[str] | None = None) -> UsageOutcome:
    """The outcome every mode returns: one row per container, totals, and a `kubectl top`-like message."""
    rows = [_row(s) for s in samples]
    lines = []
    for r in rows:
        cpu = f"cpu {r['cpu_millicores']:g}m" + (f" ({r['cpu_percent']}% of {r['cpu_limit_millicores']:g}m)"
                                                 if r["cpu_percent"] is not None else "")
        mem = f"memory {mib(r['memory_bytes'])}" + (f" ({r['memory_percent']}% of {mib(r['memory_limit_bytes'])})"
                                                    if r["memory_percent"] is not None else "")
        lines.append(f"{r['pod']}/{r['container']}: {cpu}, {mem}")
    if missing:
        lines.append(f"no numbers (yet) for: {', '.join(missing)}")
    return UsageOutcome(msg="\n".join(lines) or f"{service}: nothing running to measure", warnings=list(warnings or []),
                        service=service, pods=rows, totals=_totals(samples), missing=missing, source=source)
