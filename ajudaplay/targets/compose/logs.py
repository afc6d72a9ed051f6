"""`logs` on Compose, with the arguments Kubernetes has: tail, since, grep, previous.

`docker logs` per container (one round trip for all of them), each line
prefixed with its container's name as Kubernetes prefixes the pod's name;
stdout and stderr merged as the container wrote them. The current
containers are the live ones (all of them when none is live). `previous:
true` reads the last exited container of the service (the one that started
last), the nearest Compose has to `kubectl logs --previous`: a container
Docker restarted in place keeps its earlier output in its current logs, so
when the service has no exited container the result says so, plainly.
"""

from __future__ import annotations

import re
import shlex
import uuid
from typing import TYPE_CHECKING

from ajudaplay.errors import TargetError
from ajudaplay.targets.base import Result

if TYPE_CHECKING:
    from ajudaplay.targets.base import StepContext
    from ajudaplay.targets.compose.cli import Container
    from ajudaplay.targets.compose.session import Session
    from ajudaplay.targets.compose.settings import ServiceMap

EXITED = ("exited", "dead")


def logs(sess: Session, ctx: StepContext, svc: ServiceMap, tail: int, grep: str | None, since: int | None = None,
         previous: bool = False) -> Result:
    """The last `tail` log lines of each container of the service, optionally since N seconds, filtered."""
    try:
        pattern = re.compile(grep) if grep else None
    except re.error as exc:
        raise TargetError(f"logs.grep: invalid regular expression {grep!r}: {exc}") from exc
    containers = sess.project.containers(svc.compose)
    if previous:
        exited = sorted((c for c in containers if c.status in EXITED), key=lambda c: c.started_at)
        if not exited:
            data = {"service": svc.name, "containers": {}, "lines": [], "count": 0, "stdout": "", "previous": True}
            return Result(data=data, msg=f"service {svc.name!r} has no exited container, so no previous logs "
                          "(a container Docker restarted in place keeps its earlier output in its current logs)")
        chosen = exited[-1:]
    else:
        chosen = [c for c in containers if c.live] or containers
    per = _read(sess, ctx, chosen, tail, since)
    per = {name: [ln for ln in lines if pattern is None or pattern.search(ln)] for name, lines in per.items()}
    merged = [f"{name} {line}" for name, lines in per.items() for line in lines]
    data = {"service": svc.name, "containers": per, "lines": merged, "count": len(merged),
            "stdout": "\n".join(merged), "previous": previous}
    if previous:
        data["exit_code"] = chosen[0].exit_code
    return Result(msg="\n".join(merged), data=data)


def _read(sess: Session, ctx: StepContext, containers: list[Container], tail: int, since: int | None
          ) -> dict[str, list[str]]:
    """{container name: lines}, one command for all containers, split on a marker no log line holds."""
    if not containers:
        return {}
    mark = f"@@ajudaplay-{uuid.uuid4().hex}"
    opts = f"--tail {int(tail)}" + (f" --since {int(since)}s" if since is not None else "")
    script = "; ".join(f"echo {mark} {shlex.quote(c.name)}; docker logs {opts} {shlex.quote(c.id)} 2>&1"
                       for c in containers)
    result = sess.project.run(script, f"reading logs of {containers[0].name}", timeout=ctx.timeout or 60)
    per: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in result.stdout.splitlines():
        if line.startswith(mark + " "):
            current = per.setdefault(line[len(mark) + 1:], [])
        elif current is not None:
            current.append(line)
    return per
