"""`exec` in a Compose service's containers: one (the first running, or a named one) or all of them.

`pod` names a container (as `docker ps` shows it) or is `all`, as a pod name
or `all` does on Kubernetes; results per container then, in the same shape.
`stdin` is written to the command (`exec -T` keeps stdin open). Compose has
no containers inside a container: `container` is refused with that reason.

Stopping: killing `docker compose exec` (what the host connection does on
Ctrl-C or a timeout) leaves the process it started in the container running:
the engine's exec session does not end with its client. So the command gets
`AJUDAPLAY_CMD=<marker>` in its environment (`exec -e`, inherited by all it
starts), and stopping it runs the stop script SSH hosts use (hosts/stopping.py,
busybox-safe) in the container with `docker exec`: SIGTERM, then SIGKILL, to
every process holding the marker. That needs `sh`, `tr` and `grep` in the
image; without them the step says the command may still run.
"""

from __future__ import annotations

import dataclasses
import shlex
from typing import TYPE_CHECKING, Any

from ajudaplay.errors import Interrupted, TargetError
from ajudaplay.hosts.base import MARKER_VAR
from ajudaplay.hosts.stopping import KILL_GRACE, TIMEOUT_RC, new_marker, remote_stop_script
from ajudaplay.outcomes import ExecOutcome

if TYPE_CHECKING:
    from ajudaplay.hosts.base import HostConnection
    from ajudaplay.targets.base import StepContext
    from ajudaplay.targets.compose.cli import Container
    from ajudaplay.targets.compose.session import Session
    from ajudaplay.targets.compose.settings import ServiceMap

STOP_TIMEOUT = 2 * KILL_GRACE + 15


def exec_(sess: Session, ctx: StepContext, svc: ServiceMap, command: list[str] | str, *,
          container: str | None = None, pod: str | None = None, stdin: str | None = None) -> ExecOutcome:
    """Run a command in the service's first running container, a named one, or all (`pod: all`)."""
    if container is not None:
        raise TargetError(f"exec.container: not supported on Compose: a Compose container has no containers "
                          f"inside it; name one of the service's containers with `pod` instead")
    argv = ["sh", "-c", command] if isinstance(command, str) else list(command)
    shown = command if isinstance(command, str) else shlex.join(command)
    if ctx.check:
        return ExecOutcome(skipped=True, msg=f"check mode: would run in {svc.name}: {shown}", rc=None, stdout="",
                           stderr="", stdout_lines=[], stderr_lines=[], cmd=shown)
    chosen = _choose(sess.project.containers(svc.compose), pod, svc)
    sess.project.primed = None  # the command may change the containers
    runs = [dict(_run(sess, ctx, svc, c, argv, stdin), cmd=shown, pod=c.name, container=svc.compose) for c in chosen]
    failed = [r for r in runs if r["rc"] != 0]
    if pod == "all":
        data: dict[str, Any] = {
            "rc": failed[0]["rc"] if failed else 0, "cmd": shown, "pods": runs,
            "stdout": "\n".join(r["stdout"] for r in runs), "stderr": "\n".join(r["stderr"] for r in runs),
            "stdout_lines": [f"{r['pod']} {line}" for r in runs for line in r["stdout_lines"]],
            "stderr_lines": [f"{r['pod']} {line}" for r in runs for line in r["stderr_lines"]],
        }
    else:
        data = runs[0]
    if failed:
        first = failed[0]
        detail = (first["stderr"] or first["stdout"]).strip()[-500:]
        where = f" in {first['pod']}" if pod is not None else ""
        return ExecOutcome.of(data, changed=True, failed=True, msg=f"{shown} exited {first['rc']}{where}: {detail}")
    return ExecOutcome.of(data, changed=True, msg=str(data["stdout"]).strip()[-2000:])


def _choose(containers: list[Container], wanted: str | None, svc: ServiceMap) -> list[Container]:
    """Running containers of the service: the first, the one named, or all of them."""
    live = [c for c in containers if c.live]
    if wanted not in (None, "all"):
        named = [c for c in containers if c.name == wanted]
        if not named:
            raise TargetError(f"exec: {wanted!r} is not a container of service {svc.compose!r}; its containers: "
                              f"{', '.join(c.name for c in containers) or 'none'}")
        if not named[0].live:
            raise TargetError(f"exec: container {wanted!r} of service {svc.compose!r} is not running ({named[0].status})")
        return named
    if not live:
        raise TargetError(f"exec: service {svc.compose!r} has no running container")
    return live if wanted == "all" else live[:1]


def _run(sess: Session, ctx: StepContext, svc: ServiceMap, container: Container, argv: list[str],
         stdin: str | None) -> dict[str, Any]:
    """One `compose exec -T` in one container, marked so that Ctrl-C and the timeout stop it in there too."""
    marker = new_marker()
    cmd = sess.project.compose_cmd("exec", "-T", "-e", f"{MARKER_VAR}={marker}", "--index",
                                   str(container.number or 1), svc.compose, *argv)
    host = sess.project.host
    try:
        result = host.run(cmd, timeout=ctx.timeout, cancel=ctx.cancel, stdin=stdin)
    except Interrupted as exc:
        raise Interrupted(f"{exc}; {_said(stop(host, container.id, marker))}") from exc
    if result.rc == TIMEOUT_RC and ctx.timeout is not None and result.duration >= ctx.timeout:
        result = dataclasses.replace(result, stderr=f"{result.stderr.rstrip()} ({_said(stop(host, container.id, marker))})")
    return {"rc": result.rc, "stdout": result.stdout, "stderr": result.stderr,
            "stdout_lines": result.stdout.splitlines(), "stderr_lines": result.stderr.splitlines()}


def stop(host: HostConnection, container_id: str, marker: str) -> bool:
    """Stop what the marked exec started in the container; True when nothing of it is left."""
    command = f"docker exec {shlex.quote(container_id)} sh -c {shlex.quote(remote_stop_script(marker))}"
    try:
        return host.run(command, timeout=STOP_TIMEOUT).ok
    except TargetError:
        return False


def _said(stopped: bool) -> str:
    return ("the command was stopped in the container" if stopped
            else "the command could not be confirmed stopped in the container (does the image have sh?)")
