"""`usage` on Compose: CPU and memory of the service's running containers, from `docker stats --no-stream`.

One command on the host for all of them. Memory is docker's usage figure (the
working set on cgroup v1 and v2: page cache that can be dropped is not counted),
CPU the engine's percentage of one core turned into millicores. Limits are the
containers' HostConfig (`mem_limit`/`deploy.resources.limits`, `cpus`), read with
the container listing; without a limit docker shows the host's memory, which is not
a limit and is not reported as one. Read-only: runs in check mode too.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import TYPE_CHECKING, Any

from ajudaplay.errors import TargetError
from ajudaplay.targets.usage import Sample, usage_outcome

if TYPE_CHECKING:
    from ajudaplay.outcomes import UsageOutcome
    from ajudaplay.targets.base import StepContext
    from ajudaplay.targets.compose.session import Session
    from ajudaplay.targets.compose.settings import ServiceMap

UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
         "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}
_SIZE = re.compile(r"^\s*([0-9.]+)\s*([a-zA-Z]*)\s*$")


def usage(sess: Session, ctx: StepContext, svc: ServiceMap) -> UsageOutcome:
    """One row per running container of the service (`pod` = the container's name)."""
    containers = sess.project.containers(svc.compose)
    live = [c for c in containers if c.live]
    missing = sorted(c.name for c in containers if not c.live)
    if not live:
        return usage_outcome(svc.name, [], "docker stats", missing)
    ids = " ".join(shlex.quote(c.id) for c in live)
    fmt = shlex.quote("{{json .}}")
    result = sess.project.run(f"docker stats --no-stream --no-trunc --format {fmt} {ids}",
                              f"reading the resource usage of {svc.compose!r}", timeout=ctx.timeout or 60)
    stats = _parse(result.stdout, sess.project.settings.target)
    samples: list[Sample] = []
    for c in live:
        row = stats.get(c.id) or stats.get(c.name)
        if row is None:
            missing.append(c.name)  # it stopped between the listing and the stats
            continue
        cpu, memory = row
        samples.append(Sample(c.name, svc.compose, cpu, memory, c.cpu_limit_millicores, c.memory_limit))
    return usage_outcome(svc.name, samples, "docker stats", sorted(missing))


def _parse(text: str, target: str) -> dict[str, tuple[float, int]]:
    """ID (12 characters) and name -> (millicores, memory bytes), from one JSON object per line."""
    out: dict[str, tuple[float, int]] = {}
    for line in text.splitlines():
        if not line.strip().startswith("{"):
            continue
        try:
            doc: dict[str, Any] = json.loads(line)
            cpu = float(str(doc.get("CPUPerc", "0")).strip().rstrip("%") or 0) * 10.0
            memory = size(str(doc.get("MemUsage", "0B")).split("/", 1)[0])
        except ValueError as exc:
            raise TargetError(f"target {target!r}: unexpected `docker stats` output: {line[:200]}") from exc
        for key in (str(doc.get("ID", ""))[:12], str(doc.get("Name", ""))):
            if key:
                out[key] = (cpu, memory)
    return out


def size(text: str) -> int:
    """docker's human sizes ("30.55MiB", "1.2GB", "0B") in bytes; ValueError when it is none of them."""
    match = _SIZE.match(text)
    if not match or match.group(2).lower() not in UNITS:
        raise ValueError(f"not a size: {text!r}")
    return int(float(match.group(1)) * UNITS[match.group(2).lower()])
