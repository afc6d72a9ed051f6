"""The volumes a Compose service mounts (the `disk` action), from `docker inspect` of its containers.

One command on the host: the Mounts of the service's newest container (running or
not), as docker reports them. Named volumes and bind mounts alike; tmpfs too. What
docker answers is data: parsed as JSON, never used as a path or shell word.
"""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ajudaplay.targets.base import StepContext
    from ajudaplay.targets.compose.session import Session
    from ajudaplay.targets.compose.settings import ServiceMap


def volumes(sess: Session, ctx: StepContext, svc: ServiceMap) -> list[dict[str, Any]]:
    """{name, kind, mount_path, read_only, source, driver} per mount of the service's newest container."""
    containers = sess.project.containers(svc.compose)
    if not containers:
        return []
    newest = containers[-1]
    result = sess.project.run(f"docker inspect --format '{{{{json .Mounts}}}}' {shlex.quote(newest.id)}",
                              f"reading the mounts of {svc.compose!r}", timeout=ctx.timeout or 60)
    return parse_mounts(result.stdout, newest.name)


def parse_mounts(text: str, container: str) -> list[dict[str, Any]]:
    """docker's Mounts JSON -> one dict per mount, sorted by mount path; anything unparsable is no mount."""
    try:
        mounts = json.loads(text.strip() or "[]")
    except ValueError:
        return []
    found: list[dict[str, Any]] = []
    for mount in mounts if isinstance(mounts, list) else []:
        if not isinstance(mount, dict):
            continue
        kind = str(mount.get("Type") or "")
        found.append({
            "name": str(mount.get("Name") or "") or None,
            "kind": kind,  # volume, bind, tmpfs
            "mount_path": str(mount.get("Destination") or ""),
            "read_only": not bool(mount.get("RW", True)),
            "source": str(mount.get("Source") or "") or None,
            "driver": str(mount.get("Driver") or "") or None,
            "container": container,
        })
    return sorted(found, key=lambda m: m["mount_path"])
