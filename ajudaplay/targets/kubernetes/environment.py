"""`environment` on Kubernetes: the names the service's container gets, and whether their sources exist.

Read from the Deployment's pod template (what the next pod will get, so a pod that
cannot start still answers): `env` names, and for `valueFrom.secretKeyRef` /
`configMapKeyRef` a ref whose `present` says the object and the key exist (`optional`
kept, as the kubelet honours it); `envFrom` turns every key of the Secret/ConfigMap into
a name (with its `prefix`), a missing object into a ref with present false. Secrets are
read for their KEYS: the values arrive with the object (the API has no keys-only read)
and are dropped in `_keys` before anything else sees them. `missing` here is the names a
required ref cannot give (the kubelet refuses to start the container); the action adds
the inventory's expected names (actions/incident.py). Read-only: runs in check mode too.
"""

from __future__ import annotations

from typing import Any

from ajudaplay.outcomes import EnvironmentOutcome
from ajudaplay.targets.base import StepContext
from ajudaplay.targets.kubernetes.api import JSON, Kube
from ajudaplay.targets.kubernetes.apierrors import KubeApiError
from ajudaplay.targets.kubernetes.objects import pick_container, read_deployment
from ajudaplay.targets.kubernetes.services import ServiceRef
from ajudaplay.targets.kubernetes.usage import quantity

_KINDS = {"secretKeyRef": "Secret", "configMapKeyRef": "ConfigMap", "secretRef": "Secret", "configMapRef": "ConfigMap"}


def environment(kube: Kube, ctx: StepContext, ref: ServiceRef) -> EnvironmentOutcome:
    """Names, refs and the names a missing required ref leaves unset, for the service's container."""
    deployment = read_deployment(kube, ref)
    name = pick_container(deployment, ref, kube.target)
    spec = (deployment.get("spec") or {}).get("template", {}).get("spec") or {}
    container: JSON = next(c for c in spec.get("containers") or [] if c.get("name") == name)
    objects = _Objects(kube)
    names: set[str] = set()
    refs: list[dict[str, Any]] = []
    blocked: set[str] = set()
    for source in container.get("envFrom") or []:
        prefix = str(source.get("prefix") or "")
        for key_name, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
            if key_name not in source:
                continue
            obj = str((source[key_name] or {}).get("name") or "")
            optional = bool((source[key_name] or {}).get("optional"))
            keys = objects.keys(kind, obj)
            if keys is None:
                refs.append({"name": None, "kind": kind, "source": obj, "key": None, "present": False, "optional": optional})
                continue
            for key in keys:
                names.add(prefix + key)
                refs.append({"name": prefix + key, "kind": kind, "source": obj, "key": key, "present": True,
                             "optional": optional})
    for entry in container.get("env") or []:
        var = str(entry.get("name"))
        names.add(var)
        for key_name, selector in ((entry.get("valueFrom") or {})).items():
            ref_kind = _KINDS.get(key_name)
            if ref_kind is None or not isinstance(selector, dict):
                continue  # fieldRef, resourceFieldRef: always there
            obj, key, optional = str(selector.get("name") or ""), str(selector.get("key") or ""), bool(selector.get("optional"))
            keys = objects.keys(ref_kind, obj)
            present = keys is not None and key in keys
            refs.append({"name": var, "kind": ref_kind, "source": obj, "key": key, "present": present, "optional": optional})
            if not present and not optional:
                blocked.add(var)
    unread = [f"{kind} {obj!r}: {why}" for (kind, obj), why in sorted(objects.denied.items())]
    return EnvironmentOutcome(
        service=ref.service, names=sorted(names), expected=[], missing=sorted(blocked), refs=refs, limits=_limits(container),
        warnings=[f"could not read {what}; its refs count as missing" for what in unread],
        msg=f"{len(names)} variable(s) in container {name!r}" + (f", {len(blocked)} from missing refs" if blocked else ""),
        extra={"container": name, "deployment": ref.deployment},
    )


def _limits(container: JSON) -> dict[str, Any]:
    """The container's memory (bytes) and CPU (millicores) limits, None where the spec sets none."""
    given = ((container.get("resources") or {}).get("limits")) or {}
    return {"memory_bytes": int(quantity(given["memory"])) if given.get("memory") else None,
            "cpu_millicores": float(quantity(given["cpu"]) * 1000) if given.get("cpu") else None}


class _Objects:
    """Secret and ConfigMap keys by (kind, name), each object read once; None when it does not exist."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self.cache: dict[tuple[str, str], list[str] | None] = {}
        self.denied: dict[tuple[str, str], str] = {}

    def keys(self, kind: str, name: str) -> list[str] | None:
        if (kind, name) not in self.cache:
            self.cache[(kind, name)] = self._read(kind, name)
        return self.cache[(kind, name)]

    def _read(self, kind: str, name: str) -> list[str] | None:
        if not name:
            return None
        resource = "secrets" if kind == "Secret" else "configmaps"
        try:
            obj = self.kube.get_or_none(self.kube.ns_path("v1", resource, name), what=f"{kind.lower()} {name!r}")
        except KubeApiError as exc:
            if exc.status != 403:
                raise
            self.denied[(kind, name)] = exc.api_message
            return None
        if obj is None:
            return None
        keys = sorted(set((obj.get("data") or {})) | set((obj.get("binaryData") or {})))
        del obj  # a Secret's values go no further than this line
        return keys
