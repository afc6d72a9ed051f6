"""Waiting until a Compose service is up: running, healthy, at the expected image.

Compose's own healthcheck decides when one is defined; otherwise "running" and,
when the inventory or the step names one, a health URL fetched on the host.
Docker declares a container `unhealthy` only after `retries` failed checks, so
that (or an exited container) fails at once instead of waiting out the timeout.
"""

from __future__ import annotations

import shlex
import time
from typing import TYPE_CHECKING

from ajudaplay.errors import TargetError
from ajudaplay.outcomes import DEFAULT_WAIT
from ajudaplay.targets.compose.cli import Container, normalize_image

if TYPE_CHECKING:
    from ajudaplay.targets.base import StepContext
    from ajudaplay.targets.compose.cli import ComposeProject

POLL = 0.4  # seconds between `docker inspect` rounds
DEFAULT_TIMEOUT = DEFAULT_WAIT  # one default for both modes (ajudaplay/outcomes.py)


class HealthFailure(TargetError):
    """The service did not become healthy; the message says which container and why."""


def _verdict(containers: list[Container], image: str | None, replicas: int) -> tuple[bool, str | None, str]:
    """(ready, fatal reason or None, progress text) for one inspection round."""
    wanted = [c for c in containers if image is None or normalize_image(c.image) == normalize_image(image)]
    others = [c for c in containers if c not in wanted]
    for c in wanted:
        if c.status in ("exited", "dead"):
            return False, f"container {c.name} exited with code {c.exit_code}", ""
        if c.health == "unhealthy":
            log = f" (last check: {c.health_log[:200]})" if c.health_log else ""
            return False, f"container {c.name} is unhealthy{log}", ""
    up = [c for c in wanted if c.status == "running" and c.health in (None, "healthy")]
    ready = len(up) >= replicas and not others
    progress = f"{len(up)}/{replicas} ready"
    if others:
        progress += f", {len(others)} old container(s) still present"
    return ready, None, progress


def wait_healthy(
    project: ComposeProject,
    ctx: StepContext,
    compose_service: str,
    image: str | None,
    replicas: int,
    health_url: str | None = None,
    timeout: float | None = None,
) -> list[Container]:
    """Poll until `replicas` containers run `image` and are healthy; HealthFailure otherwise."""
    limit = timeout or ctx.timeout or DEFAULT_TIMEOUT
    deadline = time.monotonic() + limit
    progress = "no container yet"
    while True:
        if ctx.cancelled():
            raise TargetError(f"stopped while waiting for service {compose_service!r} ({progress})")
        containers = project.containers(compose_service)
        ready, fatal, progress = _verdict(containers, image, replicas)
        if fatal:
            raise HealthFailure(f"service {compose_service!r} did not become healthy: {fatal}")
        if ready:
            if health_url:
                _wait_url(project, ctx, health_url, deadline)
            return containers
        if time.monotonic() >= deadline:
            raise HealthFailure(
                f"service {compose_service!r} not healthy after {limit:g}s ({progress})", retryable=True
            )
        ctx.log(f"waiting for {compose_service}: {progress}")
        ctx.progress(f"waiting for {compose_service}: {progress}")
        time.sleep(POLL)


def _wait_url(project: ComposeProject, ctx: StepContext, url: str, deadline: float) -> None:
    """GET the health URL from the host (curl or wget) until it answers 2xx or the deadline passes."""
    q = shlex.quote(url)
    cmd = (
        f"if command -v curl >/dev/null 2>&1; then curl -fsS -m 5 -o /dev/null {q}; "
        f"else wget -q -T 5 -O /dev/null {q}; fi"
    )
    while True:
        result = project.host.run(cmd, timeout=15, cancel=ctx.cancel)
        if result.ok:
            return
        if ctx.cancelled():
            raise TargetError(f"stopped while checking {url}")
        if time.monotonic() >= deadline:
            detail = (result.stderr or result.stdout).strip()[-300:]
            raise HealthFailure(f"health URL {url} did not answer 2xx: {detail or f'exit {result.rc}'}")
        time.sleep(POLL)
