"""`endpoints` on Compose: the service's containers, their addresses and published ports.

One `docker inspect` of the service's containers (found by the Compose labels,
as `docker compose ps` finds them): a running container that is healthy (or has
no healthcheck) is ready, any other is not; its address is its IP on the
project's network (preferring `<project>_default`), its ports the container
ports it exposes, with the host ip:port each is published on. Other services of
the project reach it by the Compose service name, hence the internal URLs.
Compose has no Ingress: public host names come from the inventory's `hosts:`
service key (the action adds them, on every mode). Read-only.
"""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING, Any

from ajudaplay.errors import TargetError
from ajudaplay.outcomes import EndpointsOutcome

if TYPE_CHECKING:
    from ajudaplay.targets.base import StepContext
    from ajudaplay.targets.compose.session import Session
    from ajudaplay.targets.compose.settings import ServiceMap

__all__ = ["endpoints", "from_inspect"]


def endpoints(sess: Session, ctx: StepContext, svc: ServiceMap) -> EndpointsOutcome:
    """Ready and not-ready containers, the ports they expose and publish, the service-name URLs."""
    settings = sess.settings
    labels = [f"label=com.docker.compose.project={settings.project_name}", "label=com.docker.compose.oneoff=False",
              f"label=com.docker.compose.service={svc.compose}"]
    filters = " ".join(f"--filter {shlex.quote(f)}" for f in labels)
    cmd = f"ids=$(docker ps -aq {filters}) && if [ -n \"$ids\" ]; then docker inspect $ids; else echo '[]'; fi"
    result = sess.project.run(cmd, f"inspecting the containers of service {svc.compose!r}", timeout=ctx.timeout or 60)
    try:
        docs = json.loads(result.stdout or "[]")
    except ValueError as exc:
        raise TargetError(f"target {settings.target!r}: unexpected `docker inspect` output") from exc
    return from_inspect([d for d in docs if isinstance(d, dict)], svc.name, svc.compose, settings.project_name)


def from_inspect(docs: list[dict[str, Any]], service: str, compose: str, project: str) -> EndpointsOutcome:
    """The outcome from `docker inspect` documents (pure, so it is tested without an engine)."""
    ready: list[dict[str, Any]] = []
    not_ready: list[dict[str, Any]] = []
    ports: dict[tuple[int, str], dict[str, Any]] = {}
    names: list[str] = []
    for doc in sorted(docs, key=lambda d: str(d.get("Name", ""))):
        name = str(doc.get("Name", "")).lstrip("/")
        names.append(name)
        state = doc.get("State") or {}
        health = (state.get("Health") or {}).get("Status")
        is_ready = state.get("Status") == "running" and health in (None, "healthy")
        network = doc.get("NetworkSettings") or {}
        address = _address(network, project)
        for key in sorted(set((doc.get("Config") or {}).get("ExposedPorts") or {}) | set(network.get("Ports") or {})):
            number, _, proto = str(key).partition("/")
            try:
                port = int(number)
            except ValueError:
                continue
            protocol = (proto or "tcp").upper()
            row = {"address": address, "port": port, "protocol": protocol, "where": name}
            (ready if is_ready else not_ready).append(row)
            bound = [f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}"
                     for b in (network.get("Ports") or {}).get(key) or [] if b.get("HostPort")]
            entry = ports.setdefault((port, protocol), {"name": str(key), "port": port, "target_port": port,
                                                         "protocol": protocol, "published": []})
            entry["published"] = sorted({*entry["published"], *bound})
    listed = [ports[k] for k in sorted(ports)]
    urls = [f"http://{compose}:{p['port']}" for p in listed if p["protocol"] == "TCP"]
    warnings = [] if docs else [f"service {compose!r} has no containers"]
    return EndpointsOutcome(
        service=service, ready=ready, not_ready=not_ready, ports=listed, internal_urls=urls, hosts=[],
        msg=f"{len({r['where'] for r in ready})} ready, {len({r['where'] for r in not_ready})} not ready",
        warnings=warnings, extra={"containers": names},
    )


def _address(network: dict[str, Any], project: str) -> str | None:
    """The container's IP on the project's default network, else on the first network that has one."""
    networks = network.get("Networks") or {}
    preferred = networks.get(f"{project}_default") or {}
    if preferred.get("IPAddress"):
        return str(preferred["IPAddress"])
    for value in networks.values():
        if (value or {}).get("IPAddress"):
            return str(value["IPAddress"])
    return str(network.get("IPAddress") or "") or None
