"""`environment` on Compose: the names in the service's newest container, and ajudaplay's env files.

One command on the host. Names come from `docker inspect` of the newest container of
the service, running or exited (a crashing container still answers): Config.Env split at
the first '=' by docker's own template (`split`), so values never leave the host. The env
files the service gets from ajudaplay (`secret`: the inventory's `env_file`, or the one
the override adds) are refs with `present` = the file exists on the host, and their keys
(names only, cut by sed on the host) are refs too. `missing` here is empty: the action adds
the inventory's expected names (actions/incident.py). Read-only: runs in check mode too.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from ajudaplay.outcomes import EnvironmentOutcome

if TYPE_CHECKING:
    from ajudaplay.targets.base import StepContext
    from ajudaplay.targets.compose.session import Session
    from ajudaplay.targets.compose.settings import ServiceMap

# one line per container: created time, name, then the variable names (docker's template cuts the values)
_FORMAT = '{{.Created}}\t{{.Name}}\t{{range .Config.Env}}{{index (split . "=") 0}} {{end}}'
_KEYS = r"s/^[[:space:]]*\(export[[:space:]]\{1,\}\)\{0,1\}\([A-Za-z_][A-Za-z0-9_]*\)=.*/\2/p"


def env_files(sess: Session, svc: ServiceMap) -> list[str]:
    """The env files ajudaplay gives the service: the inventory's, or those the override lists."""
    listed = [str(p) for p in (sess.override.services.get(svc.compose, {}).get("env_file") or [])]
    if svc.env_file:
        listed.insert(0, sess.settings.path(svc.env_file))
    return list(dict.fromkeys(listed))


def environment(sess: Session, ctx: StepContext, svc: ServiceMap) -> EnvironmentOutcome:
    """Names of the newest container's environment and the env file refs, in one round trip."""
    q = shlex.quote
    containers = sess.project.containers(svc.compose)
    files = env_files(sess, svc)
    script = []
    if containers:
        ids = " ".join(q(c.id) for c in containers)
        script.append(f"docker inspect --format {q(_FORMAT)} {ids} | sed 's/^/c\\t/'")
    for i, path in enumerate(files):
        script.append(f"if [ -f {q(path)} ]; then echo 'f\t{i}\tpresent'; sed -n {q(_KEYS)} {q(path)} | sed 's/^/k\\t{i}\\t/'; "
                      f"else echo 'f\t{i}\tabsent'; fi")
    script.append("true")
    result = sess.project.run("\n".join(script), f"reading the environment names of {svc.compose!r}", timeout=ctx.timeout or 60)
    newest: tuple[str, str, list[str]] | None = None
    present: dict[int, bool] = {}
    keys: dict[int, list[str]] = {}
    for line in result.stdout.splitlines():
        parts = line.split("\t")
        if parts[0] == "c" and len(parts) >= 4:
            row = (parts[1], parts[2].lstrip("/"), parts[3].split())
            if newest is None or row[0] > newest[0]:
                newest = row
        elif parts[0] == "f" and len(parts) == 3:
            present[int(parts[1])] = parts[2] == "present"
        elif parts[0] == "k" and len(parts) == 3:
            keys.setdefault(int(parts[1]), []).append(parts[2])
    names = sorted(set(newest[2])) if newest else []
    refs: list[dict[str, Any]] = []
    for i, path in enumerate(files):
        if not present.get(i):
            refs.append({"name": None, "kind": "env_file", "source": path, "key": None, "present": False})
        for key in sorted(set(keys.get(i, []))):
            refs.append({"name": key, "kind": "env_file", "source": path, "key": key, "present": True})
    latest = next((c for c in containers if newest and c.name == newest[1]), None)
    limits = {"memory_bytes": latest.memory_limit if latest else None,
              "cpu_millicores": latest.cpu_limit_millicores if latest else None}
    warnings = [] if newest else [f"service {svc.compose!r} has no container: its environment is not known yet"]
    where = f"container {newest[1]!r}" if newest else "no container"
    return EnvironmentOutcome(
        service=svc.name, names=names, expected=[], missing=[], refs=refs, limits=limits, warnings=warnings,
        msg=f"{len(names)} variable(s) in {where}", extra={"container": newest[1] if newest else None},
    )
