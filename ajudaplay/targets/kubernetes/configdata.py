"""`config` and `secret`: a ConfigMap from files, a Secret from an env file; restart only on change.

Like `kubectl create configmap --from-file ... --dry-run=client -o yaml | kubectl apply -f -`:
the object's keys become exactly the given files/values. Diffs are per key;
Secret values never leave this module, not even in a diff.
"""

from __future__ import annotations

import base64
import difflib
from collections.abc import Callable

from ajudaplay.redaction import PLACEHOLDER
from ajudaplay.outcomes import Change, ConfigOutcome, Result, SecretOutcome
from ajudaplay.targets.base import StepContext
from ajudaplay.targets.kubernetes.api import JSON, Kube
from ajudaplay.targets.kubernetes.apierrors import KubeApiError
from ajudaplay.targets.kubernetes.services import ServiceRef

Restart = Callable[[], Result]
ATTEMPTS = 3  # optimistic-concurrency retries on 409, like kubectl apply


def _split_files(files: dict[str, bytes]) -> tuple[dict[str, str], dict[str, str]]:
    """UTF-8 files go to data, others to binaryData (base64), as kubectl does."""
    data: dict[str, str] = {}
    binary: dict[str, str] = {}
    for key, content in files.items():
        try:
            data[key] = content.decode("utf-8")
        except UnicodeDecodeError:
            binary[key] = base64.b64encode(content).decode("ascii")
    return data, binary


def config(kube: Kube, ctx: StepContext, ref: ServiceRef, files: dict[str, bytes], restart: bool,
           restart_fn: Restart) -> ConfigOutcome:
    """Creates or updates the service's ConfigMap; restarts the Deployment when it changed and asked to."""
    name = ref.require("configmap", "config", kube.target)
    data, binary = _split_files(files)
    changes: list[Change] = []

    def diff(existing: JSON | None) -> list[Change]:
        old = (existing or {}).get("data") or {}
        old_bin = (existing or {}).get("binaryData") or {}
        out: list[Change] = []
        for key in sorted(set(old) | set(data)):
            before, after = old.get(key), data.get(key)
            if before != after:
                unified = "".join(difflib.unified_diff(
                    (before or "").splitlines(keepends=True), (after or "").splitlines(keepends=True),
                    fromfile=f"{name}/{key}", tofile=f"{name}/{key}"))
                out.append(Change(f"configmap {name} {key}", _state(before), _state(after), unified))
        for key in sorted(set(old_bin) | set(binary)):
            if old_bin.get(key) != binary.get(key):
                out.append(Change(f"configmap {name} {key} (binary)", _state(old_bin.get(key)), _state(binary.get(key))))
        return out

    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": kube.namespace},
            "data": data, "binaryData": binary or None}
    changes = _write(kube, ctx, "configmaps", name, body, diff)
    done = _finish(ctx, ref, f"configmap {name!r}", changes, restart, restart_fn, {"configmap": name, "keys": sorted(files)})
    return ConfigOutcome.gathered(done, service=ref.service, files=sorted(files))


def secret(kube: Kube, ctx: StepContext, ref: ServiceRef, values: dict[str, str], restart: bool,
           restart_fn: Restart) -> SecretOutcome:
    """Creates or updates the service's Secret from key/values; the diff names keys, never values."""
    name = ref.require("secret", "secret", kube.target)
    encoded = {k: base64.b64encode(v.encode("utf-8")).decode("ascii") for k, v in values.items()}

    def diff(existing: JSON | None) -> list[Change]:
        old = (existing or {}).get("data") or {}
        out = []
        for key in sorted(set(old) | set(encoded)):
            if old.get(key) != encoded.get(key):
                before = PLACEHOLDER if key in old else None
                after = PLACEHOLDER if key in encoded else None
                out.append(Change(f"secret {name} {key}", before, after))
        return out

    body = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": kube.namespace}, "data": encoded}
    changes = _write(kube, ctx, "secrets", name, body, diff)
    done = _finish(ctx, ref, f"secret {name!r}", changes, restart, restart_fn, {"secret": name, "keys": sorted(values)})
    return SecretOutcome.gathered(done, service=ref.service)


def _state(value: str | None) -> str | None:
    return None if value is None else f"{len(value)} bytes"


def _write(kube: Kube, ctx: StepContext, resource: str, name: str, body: JSON, diff: Callable[[JSON | None], list[Change]]) -> list[Change]:
    """Create, or replace at the read resourceVersion (409 → read again); server dry run in check mode."""
    path = kube.ns_path("v1", resource, name)
    what = f"{resource[:-1]} {name!r}"
    for attempt in range(ATTEMPTS):
        existing = kube.get_or_none(path, what=what)
        changes = diff(existing)
        if existing is not None and not changes:
            return []
        try:
            if existing is None:
                kube.request("POST", kube.ns_path("v1", resource), body=body, dry_run=ctx.check, what=what)
                return changes or [Change(what, None, "created")]
            replacement = dict(body)
            meta = dict(existing.get("metadata") or {})
            meta.update({"name": name, "namespace": kube.namespace})
            replacement["metadata"] = meta
            if existing.get("type"):
                replacement["type"] = existing["type"]
            kube.request("PUT", path, body=replacement, dry_run=ctx.check, what=what)
            return changes
        except KubeApiError as exc:
            if exc.status != 409 or attempt == ATTEMPTS - 1:
                raise
    return []


def _finish(ctx: StepContext, ref: ServiceRef, what: str, changes: list[Change], restart: bool, restart_fn: Restart, data: dict[str, object]) -> Result:
    if not changes:
        return Result(msg=f"{what} unchanged", data=dict(data, restarted=False))
    result = Result(changed=True, changes=list(changes), data=dict(data, restarted=False),
                    msg=f"{'would update' if ctx.check else 'updated'} {what} ({len(changes)} keys)")
    if restart:
        restarted = restart_fn()
        result.changes.extend(restarted.changes)
        result.revisions.extend(restarted.revisions)
        result.warnings.extend(restarted.warnings)
        result.data["restarted"] = True
        result.msg += f"; {restarted.msg}"
        if restarted.failed:
            result.failed = True
    return result
