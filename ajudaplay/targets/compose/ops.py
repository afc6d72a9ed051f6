"""scale, restart and status for a Compose service (logs: logs.py, exec: execution.py).

Scale uses `up --scale --no-recreate` so healthy containers are kept; a scale
that fails (a fixed host port cannot be shared, a start fails, not healthy)
removes the containers it created, so the service is back at the replica
count it had and the next deploy does not trip over leftovers. Compose
has no autoscaler: min/max replicas are reported as not applicable (a
warning), never silently dropped, so one playbook serves both modes.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from ajudaplay.errors import TargetError, TargetUnreachable
from ajudaplay.outcomes import DEFAULT_WAIT, Change, RestartOutcome, ScaleOutcome, ServiceStatus
from ajudaplay.targets.compose import diagnosis
from ajudaplay.targets.compose.health import HealthFailure, wait_healthy
from ajudaplay.targets.compose.rollout import counts
from ajudaplay.targets.problems import summary

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
) -> ScaleOutcome:
    """Set the number of containers; autoscaler bounds become a warning."""
    warnings = [AUTOSCALER_NA] if (min_replicas is not None or max_replicas is not None) else []
    containers = sess.project.containers(svc.compose)
    running = [c for c in containers if c.live]
    base = ScaleOutcome(service=svc.name, replicas=counts(containers, len(running)), warnings=warnings)
    if replicas is None:
        return base.but(msg=f"{svc.name}: {len(running)} replica(s); nothing to scale")
    if len(containers) == replicas and len(running) == replicas:
        return base.but(msg=f"{svc.name} already at {replicas} replica(s)")
    change = Change(f"{svc.name} replicas", str(len(running)), str(replicas))
    if ctx.check:
        return base.but(changed=True, changes=[change], replicas=counts(containers, replicas),
                        msg=f"would scale {svc.name} from {len(running)} to {replicas}")
    timeout = ctx.timeout or DEFAULT_WAIT
    existing = {c.id for c in containers}
    try:
        sess.project.compose(
            "up", "-d", "--no-deps", "--no-recreate", "--scale", f"{svc.compose}={replicas}", svc.compose,
            what=f"scaling service {svc.compose!r} to {replicas}", timeout=timeout,
        )
        healthy = wait_healthy(sess.project, ctx, svc.compose, None, replicas, svc.health_url, timeout)
    except TargetError as exc:
        if ctx.cancelled() or isinstance(exc, TargetUnreachable):
            raise
        back = _scale_back(sess, svc, existing)
        return base.but(changed=True, failed=True, changes=[change],
                        replicas=counts(sess.project.containers(svc.compose), back),
                        msg=f"{exc}; removed the containers this scale created: {svc.name} is back at {back} replica(s)")
    return base.but(changed=True, changes=[change], replicas=counts(healthy, replicas),
                    msg=f"{svc.name} scaled to {replicas}, healthy")


def _scale_back(sess: Session, svc: ServiceMap, existing: set[str]) -> int:
    """Remove the containers a failed scale created; the number of live replicas left."""
    after = sess.project.containers(svc.compose)
    created = [c.id for c in after if c.id not in existing]
    if created:
        sess.project.run(f"docker rm -f {' '.join(shlex.quote(i) for i in created)}",
                         f"removing the containers of the failed scale of {svc.compose!r}", timeout=120)
    return len([c for c in after if c.live and c.id in existing])


def restart(sess: Session, ctx: StepContext, svc: ServiceMap, reason: str = "restart") -> RestartOutcome:
    """Restart the service's containers and wait until healthy again."""
    containers = sess.project.containers(svc.compose)
    change = Change(f"{svc.name}", "running", reason)
    wanted = max(1, len([c for c in containers if c.live]))
    current = sess.store.current(svc.compose)
    base = RestartOutcome(service=svc.name, image=_current_image(sess, svc, containers),
                          revision=current.revision if current else None, replicas=counts(containers, wanted),
                          changed=True, changes=[change])
    if ctx.check:
        return base.but(msg=f"would restart {svc.name} ({len(containers)} container(s))")
    timeout = ctx.timeout or DEFAULT_WAIT
    sess.project.compose("restart", svc.compose, what=f"restarting service {svc.compose!r}", timeout=timeout)
    try:
        healthy = wait_healthy(sess.project, ctx, svc.compose, None, wanted, svc.health_url, timeout)
    except HealthFailure as exc:
        return base.but(failed=True, msg=str(exc), replicas=counts(sess.project.containers(svc.compose), wanted))
    return base.but(msg=f"{svc.name} restarted, healthy", replicas=counts(healthy, wanted))


def status(sess: Session, ctx: StepContext, svc: ServiceMap) -> ServiceStatus:
    """Containers, image, health and restart counts as registered data; never changes anything."""
    containers = sess.project.containers(svc.compose)
    rows = [c.as_data() for c in containers]
    running = [c for c in containers if c.status == "running"]
    healthy = bool(running) and all(c.health in (None, "healthy") for c in running) and len(running) == len(containers)
    current = sess.store.current(svc.compose)
    why = diagnosis.why(svc.compose, containers)
    lines = [f"{c['name']}: {c['state']}, health {c['health']}, image {c['image']}, restarts {c['restarts']}" for c in rows]
    if why and not healthy:
        lines.append(f"why: {summary(why)}")
    return ServiceStatus(
        msg="\n".join(lines) or f"{svc.name}: no containers",
        service=svc.name,
        image=_current_image(sess, svc, containers),
        revision=current.revision if current else None,
        healthy=healthy,
        replicas=counts(containers, len(containers)),
        restarts=sum(c.restarts for c in containers),
        why=why,
        containers=rows,
        extra={"mode": "compose"},
    )
