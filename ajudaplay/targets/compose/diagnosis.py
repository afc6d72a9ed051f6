"""Why a Compose service will not start: `status.why`, from `docker inspect` of its containers.

Every container of the service counts, exited ones too (`docker ps -a`): how the last
run ended (exit code, OOMKilled, the engine's start error), a container the engine keeps
restarting, restarts Docker no longer explains, and the failing health checks the engine
keeps (State.Health.Log, its last five), grouped by output. The entries have the keys and
the vocabulary of the Kubernetes ones (targets/problems.py): terminated reasons Completed,
Error, OOMKilled, ContainerCannotRun; `Unhealthy` for failing checks, as the kubelet's
probe events say.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ajudaplay.targets.problems import Problem, ordered

if TYPE_CHECKING:
    from ajudaplay.targets.compose.cli import Container



def why(compose_service: str, containers: list[Container]) -> list[dict[str, Any]]:
    """The problems of the service's containers, current states first."""
    found: list[Problem] = []
    for c in containers:
        found += _state(compose_service, c) + _health(compose_service, c)
    return ordered(found)


def _at(value: str) -> str | None:
    return value if value and not value.startswith("0001-01-01") else None


def _ended(c: Container) -> str:
    if c.error:
        return "ContainerCannotRun"
    if c.oom_killed:
        return "OOMKilled"
    return "Error" if c.exit_code else "Completed"


def _problem(service: str, c: Container, reason: str, **kw: Any) -> Problem:
    return Problem(object=f"Container/{c.name}", pod=c.name, container=service, reason=reason, **kw)


def _state(service: str, c: Container) -> list[Problem]:
    count = max(c.restarts, 1)
    if c.status == "running" or c.status == "paused":
        if c.restarts == 0:
            return []
        return [_problem(service, c, "Restarted", count=c.restarts, last_seen=_at(c.started_at), source="terminated",
                        message=f"restarted {c.restarts} times (Docker keeps no exit code of the earlier runs)")]
    out = []
    if c.status == "restarting":
        out.append(_problem(service, c, "Restarting", exit_code=c.exit_code, count=count, last_seen=_at(c.finished_at),
                           source="waiting", message=f"the engine restarts it after each exit (last exit code {c.exit_code})"))
    if c.status == "created" and not c.error:
        out.append(_problem(service, c, "Created", source="waiting", message="created, never started"))
        return out
    message = c.error or f"exited with code {c.exit_code}" + (" (killed: out of memory)" if c.oom_killed else "")
    out.append(_problem(service, c, _ended(c), message=message, exit_code=c.exit_code, count=count,
                       last_seen=_at(c.finished_at), source="terminated"))
    return out


def _health(service: str, c: Container) -> list[Problem]:
    """Failing health checks while the container is not healthy, one entry per distinct output."""
    if c.health not in ("unhealthy", "starting"):
        return []
    groups: dict[tuple[int, str], list[str]] = {}
    for check in c.health_checks:
        if check.exit_code != 0:
            groups.setdefault((check.exit_code, check.output), []).append(check.end)
    out = []
    for (code, output), ends in groups.items():
        out.append(_problem(service, c, "Unhealthy",
                           message=output or f"health check exited with code {code}", exit_code=code,
                           count=len(ends), last_seen=_at(max(ends)), source="health"))
    return out
