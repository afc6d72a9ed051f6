"""scale, restart, status and exec for a Compose service (logs: logs.py).

Scale uses `up --scale --no-recreate` so healthy containers are kept; a scale
that fails (a fixed host port cannot be shared, a start fails, not healthy)
removes the containers it created, so the service is back at the replica
count it had and the next deploy does not trip over leftovers. Compose
has no autoscaler: min/max replicas are reported as not applicable (a
warning), never silently dropped, so one playbook serves both modes.
"""

from __future__ import annotations

import dataclasses
import shlex
from typing import TYPE_CHECKING

from ajudaplay.errors import Interrupted, TargetError, TargetUnreachable
from ajudaplay.hosts.stopping import TIMEOUT_RC
from ajudaplay.targets.base import Change, Result
from ajudaplay.targets.compose.health import DEFAULT_TIMEOUT, HealthFailure, wait_healthy

if TYPE_CHECKING:
    from ajudaplay.targets.base import StepContext
    from ajudaplay.targets.compose.cli import Container
    from ajudaplay.targets.compose.session import Session
    from ajudaplay.targets.compose.settings import ServiceMap

AUTOSCALER_NA = "min_replicas/max_replicas: not applicable on Compose (no autoscaler); ignored for this target"


def _current_image(sess: Session, svc: ServiceMap, containers: list[Container]) -> str | None:
    return sess.override.image(svc.compose) or (containers[0].image if containers else None)


def scale(
    sess: Session, ctx: StepContext, svc: ServiceMap, replicas: int | None,
    min_replicas: int | None, max_replicas: int | None,
) -> Result:
    """Set the number of containers; autoscaler bounds become a warning."""
    warnings = [AUTOSCALER_NA] if (min_replicas is not None or max_replicas is not None) else []
    containers = sess.project.containers(svc.compose)
    running = [c for c in containers if c.live]
    data: dict[str, object] = {"service": svc.name, "replicas": len(running)}
    if replicas is None:
        return Result(msg=f"{svc.name}: {len(running)} replica(s); nothing to scale", data=data, warnings=warnings)
    if len(containers) == replicas and len(running) == replicas:
        return Result(msg=f"{svc.name} already at {replicas} replica(s)", data=data, warnings=warnings)
    change = Change(f"{svc.name} replicas", str(len(running)), str(replicas))
    data["replicas"] = replicas
    if ctx.check:
        return Result(changed=True, changes=[change], data=data, warnings=warnings,
                      msg=f"would scale {svc.name} from {len(running)} to {replicas}")
    timeout = ctx.timeout or DEFAULT_TIMEOUT
    existing = {c.id for c in containers}
    try:
        sess.project.compose(
            "up", "-d", "--no-deps", "--no-recreate", "--scale", f"{svc.compose}={replicas}", svc.compose,
            what=f"scaling service {svc.compose!r} to {replicas}", timeout=timeout,
        )
        wait_healthy(sess.project, ctx, svc.compose, None, replicas, svc.health_url, timeout)
    except TargetError as exc:
        if ctx.cancelled() or isinstance(exc, TargetUnreachable):
            raise
        back = _scale_back(sess, svc, existing)
        data["replicas"] = back
        return Result(changed=True, failed=True, changes=[change], data=data, warnings=warnings,
                      msg=f"{exc}; removed the containers this scale created: {svc.name} is back at {back} replica(s)")
    return Result(changed=True, changes=[change], data=data, warnings=warnings,
                  msg=f"{svc.name} scaled to {replicas}, healthy")


def _scale_back(sess: Session, svc: ServiceMap, existing: set[str]) -> int:
    """Remove the containers a failed scale created; the number of live replicas left."""
    after = sess.project.containers(svc.compose)
    created = [c.id for c in after if c.id not in existing]
    if created:
        sess.project.run(f"docker rm -f {' '.join(shlex.quote(i) for i in created)}",
                         f"removing the containers of the failed scale of {svc.compose!r}", timeout=120)
    return len([c for c in after if c.live and c.id in existing])


def restart(sess: Session, ctx: StepContext, svc: ServiceMap, reason: str = "restart") -> Result:
    """Restart the service's containers and wait until healthy again."""
    containers = sess.project.containers(svc.compose)
    change = Change(f"{svc.name}", "running", reason)
    if ctx.check:
        return Result(changed=True, changes=[change], msg=f"would restart {svc.name} ({len(containers)} container(s))")
    timeout = ctx.timeout or DEFAULT_TIMEOUT
    sess.project.compose("restart", svc.compose, what=f"restarting service {svc.compose!r}", timeout=timeout)
    try:
        wait_healthy(sess.project, ctx, svc.compose, None, max(1, len([c for c in containers if c.live])),
                     svc.health_url, timeout)
    except HealthFailure as exc:
        return Result(changed=True, failed=True, changes=[change], msg=str(exc))
    return Result(changed=True, changes=[change], msg=f"{svc.name} restarted, healthy")


def status(sess: Session, ctx: StepContext, svc: ServiceMap) -> Result:
    """Containers, image, health and restart counts as registered data; never changes anything."""
    containers = sess.project.containers(svc.compose)
    rows = [c.as_data() for c in containers]
    running = [c for c in containers if c.status == "running"]
    healthy = bool(running) and all(c.health in (None, "healthy") for c in running) and len(running) == len(containers)
    current = sess.store.current(svc.compose)
    ready = len([c for c in running if c.health in (None, "healthy")])
    data: dict[str, object] = {
        "service": svc.name,
        "mode": "compose",
        "image": _current_image(sess, svc, containers),
        "replicas": {"desired": len(containers), "current": len(running), "ready": ready, "available": ready},
        "healthy": healthy,
        "restarts": sum(c.restarts for c in containers),
        "revision": current.revision if current else None,
        "containers": rows,
    }
    lines = [f"{c['name']}: {c['state']}, health {c['health']}, image {c['image']}, restarts {c['restarts']}" for c in rows]
    return Result(msg="\n".join(lines) or f"{svc.name}: no containers", data=data)


def exec_(sess: Session, ctx: StepContext, svc: ServiceMap, command: list[str] | str) -> Result:
    """Run a command in the service's first container (`compose exec -T`); skipped in check mode."""
    argv = ["sh", "-c", command] if isinstance(command, str) else list(command)
    shown = command if isinstance(command, str) else shlex.join(command)
    if ctx.check:
        return Result(skipped=True, msg=f"check mode: would run in {svc.name}: {shown}")
    from ajudaplay.targets.compose import execstop

    live = [c for c in sess.project.containers(svc.compose) if c.live]
    if not live:
        raise TargetError(f"exec: service {svc.compose!r} has no running container")
    marker, env = execstop.env_args()  # so Ctrl-C and the timeout reach the process in the container
    cmd = sess.project.compose_cmd("exec", "-T", *env, "--index", str(live[0].number or 1), svc.compose, *argv)
    sess.project.primed = None  # the command may change the containers
    try:
        result = sess.project.host.run(cmd, timeout=ctx.timeout, cancel=ctx.cancel)
    except Interrupted as exc:
        raise Interrupted(f"{exc}; {execstop.outcome(execstop.stop(sess.project.host, live[0].id, marker))}") from exc
    if result.rc == TIMEOUT_RC and ctx.timeout is not None and result.duration >= ctx.timeout:
        note = execstop.outcome(execstop.stop(sess.project.host, live[0].id, marker))
        result = dataclasses.replace(result, stderr=f"{result.stderr.rstrip()} ({note})")
    data = {"rc": result.rc, "stdout": result.stdout, "stderr": result.stderr, "cmd": shown,
            "stdout_lines": result.stdout.splitlines(), "stderr_lines": result.stderr.splitlines()}
    if not result.ok:
        detail = (result.stderr or result.stdout).strip()[-500:]
        return Result(changed=True, failed=True, data=data, msg=f"{shown} exited {result.rc}: {detail}")
    return Result(changed=True, data=data, msg=result.stdout.strip()[-2000:])
