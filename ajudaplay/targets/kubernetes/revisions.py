"""Deployment revisions the way kubectl computes them, as pure functions over API JSON.

Mirrors kubectl's `polymorphichelpers/rollback.go` and `history.go` and the
controller's `deployment/util`: ReplicaSets owned (controller ownerReference
uid) by the Deployment, their `deployment.kubernetes.io/revision` annotation,
"previous" = the second-highest revision (not current-1, which breaks after a
rollback renumbers revisions), template equality ignoring the
pod-template-hash label, and the JSON patch `rollout undo` sends.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ajudaplay.errors import TargetError
from ajudaplay.outcomes import Revision

JSON = dict[str, Any]

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
DEPRECATED_ROLLBACK_TO = "deprecated.deployment.rollback.to"
CHANGE_CAUSE = "kubernetes.io/change-cause"
HASH_LABEL = "pod-template-hash"
# Who made a revision: written on the Deployment's metadata (not the pod template, which would make a
# revision of its own) with each deploy/rollback/restart; the deployment controller copies Deployment
# annotations onto the new ReplicaSet (deployment/util copyDeploymentAnnotationsToReplicaSet), as it does
# kubernetes.io/change-cause. TEMPLATE names the pod template they were written for, so a ReplicaSet
# made later by someone else (who inherits the Deployment's annotations) is not attributed to ajudaplay.
USER = "ajudaplay.io/user"
RUN_ID = "ajudaplay.io/run-id"
TEMPLATE = "ajudaplay.io/template"
# kubectl's annotationsToSkip: kept from the Deployment, never copied from the ReplicaSet
ANNOTATIONS_TO_SKIP = frozenset({LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, DEPRECATED_ROLLBACK_TO})


def revision_of(obj: JSON) -> int | None:
    """The revision annotation as an int, or None when missing/garbled (kubectl skips those)."""
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION)
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def owned_replicasets(deployment: JSON, replicasets: list[JSON]) -> list[JSON]:
    """The ReplicaSets whose controller ownerReference is this Deployment (by uid)."""
    uid = (deployment.get("metadata") or {}).get("uid")
    owned = []
    for rs in replicasets:
        for ref in (rs.get("metadata") or {}).get("ownerReferences") or []:
            if ref.get("controller") and ref.get("uid") == uid:
                owned.append(rs)
                break
    return owned


def _normalised(value: Any) -> Any:
    """Drops None, empty maps and empty lists: apimachinery's semantic equality treats them as unset."""
    if isinstance(value, dict):
        out = {k: _normalised(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_normalised(v) for v in value]
    return value


def template_digest(template: JSON) -> str:
    """A short digest of a pod template, the pod-template-hash label and unset fields left out."""
    text = json.dumps(_normalised(template_without_hash(template)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def provenance(template: JSON, user: str, run_id: str) -> dict[str, str]:
    """The annotations saying this run (and user) made the revision whose pod template is `template`."""
    return {USER: user, RUN_ID: run_id, TEMPLATE: template_digest(template)}


def made_by(replicaset: JSON) -> tuple[str | None, str | None]:
    """(user, run_id) of the ajudaplay run that made this ReplicaSet's template; (None, None) when made outside."""
    annotations = (replicaset.get("metadata") or {}).get("annotations") or {}
    template = (replicaset.get("spec") or {}).get("template") or {}
    if annotations.get(TEMPLATE) != template_digest(template):
        return None, None
    return annotations.get(USER) or None, annotations.get(RUN_ID) or None


def template_without_hash(template: JSON) -> JSON:
    """A deep copy of a pod template minus the pod-template-hash label."""
    out = copy.deepcopy(template)
    labels = (out.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    return out


def equal_ignore_hash(template1: JSON, template2: JSON) -> bool:
    """kubectl's equalIgnoreHash: templates equal apart from the pod-template-hash label."""
    return bool(_normalised(template_without_hash(template1)) == _normalised(template_without_hash(template2)))


def select_replicaset(deployment: JSON, replicasets: list[JSON], to_revision: int | None) -> JSON:
    """kubectl's deploymentRevision(): the RS of `to_revision`, or the second-highest revision for 0/None."""
    name = (deployment.get("metadata") or {}).get("name", "")
    wanted = to_revision or 0
    if wanted < 0:
        raise TargetError(f"unable to find specified revision {wanted} in history")
    latest: tuple[int, JSON | None] = (-1, None)
    previous: tuple[int, JSON | None] = (-1, None)
    for rs in replicasets:
        revision = revision_of(rs)
        if revision is None:
            continue
        if wanted == 0:
            if latest[0] < revision:
                previous, latest = latest, (revision, rs)
            elif previous[0] < revision:
                previous = (revision, rs)
        elif revision == wanted:
            return rs
    if wanted > 0:
        known = ", ".join(str(r) for r in sorted({r for r in map(revision_of, replicasets) if r is not None}))
        raise TargetError(
            f"unable to find specified revision {wanted} in history of deployment {name!r}"
            f" (revisions: {known or 'none'})"
        )
    if previous[1] is None:
        raise TargetError(f"no rollout history found for deployment {name!r}: there is no earlier revision to roll back to")
    return previous[1]


def rollback_patch(deployment: JSON, replicaset: JSON, made: dict[str, str] | None = None) -> list[JSON]:
    """kubectl's getDeploymentPatch: replace spec.template (hash label dropped) and the annotations.

    `made`: ajudaplay's provenance annotations, added to the Deployment's (kubectl has none).
    """
    template = template_without_hash(replicaset["spec"]["template"])
    current = (deployment.get("metadata") or {}).get("annotations") or {}
    annotations = {k: v for k, v in current.items() if k in ANNOTATIONS_TO_SKIP}
    for key, value in ((replicaset.get("metadata") or {}).get("annotations") or {}).items():
        if key not in ANNOTATIONS_TO_SKIP:
            annotations[key] = value
    annotations.update(made or {})
    return [
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]


def new_replicaset(deployment: JSON, replicasets: list[JSON]) -> JSON | None:
    """The controller's FindNewReplicaSet: the oldest owned RS whose template equals the Deployment's."""
    template = (deployment.get("spec") or {}).get("template") or {}
    matching = [rs for rs in replicasets if equal_ignore_hash((rs.get("spec") or {}).get("template") or {}, template)]
    matching.sort(key=lambda rs: ((rs.get("metadata") or {}).get("creationTimestamp") or "", rs["metadata"]["name"]))
    return matching[0] if matching else None


def container_images(template: JSON) -> dict[str, str]:
    """container name -> image of a pod template (init containers excluded)."""
    containers = ((template.get("spec") or {}).get("containers")) or []
    return {str(c.get("name")): str(c.get("image")) for c in containers}


@dataclass(frozen=True)
class HistoryEntry:
    """One line of `kubectl rollout history`, plus what a playbook wants to register."""

    revision: int
    replicaset: str
    images: dict[str, str]
    change_cause: str | None
    current: bool
    created: str | None
    user: str | None = None
    run_id: str | None = None

    def as_revision(self, container: str | None) -> Revision:
        """The history line every mode registers, plus the ReplicaSet's own facts."""
        image = self.images.get(container) if container else None
        if image is None and self.images:
            image = next(iter(self.images.values()))
        return Revision(
            revision=self.revision, image=image, time=self.created, user=self.user, run_id=self.run_id,
            cause=self.change_cause, current=self.current,
            extra={"images": dict(self.images), "change_cause": self.change_cause, "replicaset": self.replicaset,
                   "created": self.created},
        )

    def as_data(self, container: str | None) -> dict[str, Any]:
        return self.as_revision(container).as_data()


def history(deployment: JSON, replicasets: list[JSON]) -> list[HistoryEntry]:
    """Revisions in ascending order; the current one is the RS matching the Deployment's template."""
    current = new_replicaset(deployment, replicasets)
    current_name = current["metadata"]["name"] if current else None
    entries: dict[int, HistoryEntry] = {}
    for rs in replicasets:
        revision = revision_of(rs)
        if revision is None:
            continue
        meta = rs.get("metadata") or {}
        user, run_id = made_by(rs)
        entries[revision] = HistoryEntry(
            revision=revision,
            replicaset=str(meta.get("name")),
            images=container_images((rs.get("spec") or {}).get("template") or {}),
            change_cause=(meta.get("annotations") or {}).get(CHANGE_CAUSE),
            current=meta.get("name") == current_name,
            created=meta.get("creationTimestamp"),
            user=user,
            run_id=run_id,
        )
    return [entries[r] for r in sorted(entries)]


def label_selector(selector: JSON | None) -> str:
    """metav1.LabelSelector as the `labelSelector` query string (matchLabels and matchExpressions)."""
    if not selector:
        return ""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        joined = ",".join(sorted(values))
        if op == "In":
            parts.append(f"{key} in ({joined})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({joined})")
        elif op == "Exists":
            parts.append(str(key))
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)
