"""The actions that roll a Deployment: deploy (set image), rollback (rollout undo), restart, history.

Each writes once (a strategic-merge or JSON patch, or a server-side dry run
in check mode) and then waits like `kubectl rollout status`. Atomic deploys
undo to the revision that was running before, with kubectl's own undo patch.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any, Callable

from ajudaplay.errors import Interrupted, TargetError
from ajudaplay.outcomes import (
    DEFAULT_WAIT, Change, DeployOutcome, RestartOutcome, RevisionChange, RevisionList, RollbackOutcome,
)
from ajudaplay.targets.base import StepContext
from ajudaplay.targets.kubernetes.api import JSON, Kube
from ajudaplay.targets.kubernetes.objects import (
    deployment_path,
    list_owned_replicasets,
    pick_container,
    read_deployment,
    replicas_of,
    rollout_counts,
)
from ajudaplay.targets.kubernetes.revisions import (
    CHANGE_CAUSE,
    container_images,
    equal_ignore_hash,
    history as revision_history,
    provenance,
    revision_of,
    rollback_patch,
    select_replicaset,
)
from ajudaplay.targets.kubernetes.rollout import rollout_status, wait_rollout
from ajudaplay.targets.kubernetes.services import ServiceRef

DEFAULT_TIMEOUT = DEFAULT_WAIT  # the documented deploy default (120 s), the same constant as Compose's
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def _timeout(ctx: StepContext) -> float:
    return float(ctx.timeout) if ctx.timeout else DEFAULT_TIMEOUT


def _watching(ctx: StepContext, service: str) -> Callable[[str], None]:
    """The rollout wait's `log`: kubectl's message to the debug log, and a short one as progress.

    'Waiting for deployment "x" rollout to finish: 1 of 2 updated replicas are available...'
    becomes the progress line 'waiting for api: 1 of 2 updated replicas are available'.
    """
    def log(message: str) -> None:
        ctx.log(message)
        short = message.split(" rollout to finish: ", 1)[-1].rstrip(".")
        short = short[len("Waiting for "):] if short.startswith("Waiting for ") else short
        ctx.progress(f"waiting for {service}: {short[:1].lower()}{short[1:]}")
    return log


def _image_of(deployment: JSON, container: str) -> str | None:
    return container_images(deployment["spec"]["template"]).get(container)


def _data(deployment: JSON, ref: ServiceRef, container: str, **extra: Any) -> dict[str, Any]:
    """What deploy, rollback and restart register: the typed keys and the Deployment's own facts."""
    done, message = _safe_status(deployment)
    data: dict[str, Any] = {
        "service": ref.service,
        "deployment": ref.deployment,
        "namespace": deployment["metadata"].get("namespace"),
        "container": container,
        "image": _image_of(deployment, container),
        "revision": revision_of(deployment),
        "replicas": replicas_of(deployment),
        **rollout_counts(deployment),
        "rolled_out": done,
        "message": message,
    }
    data.update(extra)
    return data


def _made(template: JSON, ctx: StepContext) -> dict[str, str]:
    return provenance(template, ctx.user, ctx.run_id)


def _safe_status(deployment: JSON) -> tuple[bool, str]:
    try:
        return rollout_status(deployment)
    except TargetError as exc:
        return False, str(exc)


def _paused(deployment: JSON) -> bool:
    return bool((deployment.get("spec") or {}).get("paused"))


def _with_image(template: JSON, container: str, image: str) -> JSON:
    """The pod template the image patch produces (for the provenance digest)."""
    out = copy.deepcopy(template)
    for c in (out.get("spec") or {}).get("containers") or []:
        if c.get("name") == container:
            c["image"] = image
    return out


def deploy(kube: Kube, ctx: StepContext, ref: ServiceRef, image: str, atomic: bool) -> DeployOutcome:
    """`kubectl set image` + `rollout status`; `ok` when already at the image; atomic undo on failure."""
    deployment = read_deployment(kube, ref)
    container = pick_container(deployment, ref, kube.target)
    before = _image_of(deployment, container)
    before_revision = revision_of(deployment)
    change = Change(f"{ref.service} image", before, image)
    if before == image:
        result = DeployOutcome.of(_data(deployment, ref, container), msg=f"deployment {ref.deployment!r} already runs {image}")
        if not result.extra["rolled_out"]:
            result.warnings.append(f"deployment {ref.deployment!r} is not fully rolled out: {result.extra['message']}")
        return result
    cause = f"ajudaplay deploy {ref.service}={image} (run {ctx.run_id}{', by ' + ctx.user if ctx.user else ''})"
    made = _made(_with_image(deployment["spec"]["template"], container, image), ctx)
    patch = {
        "metadata": {"annotations": {CHANGE_CAUSE: cause, **made}},
        "spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}},
    }
    path = deployment_path(kube, ref.deployment)
    what = f"deployment {ref.deployment!r}"
    if ctx.check:
        kube.request("PATCH", path, body=patch, patch="strategic", dry_run=True, what=what)
        return DeployOutcome.of(_data(deployment, ref, container, image=image, would_be_image=image),
                                changed=True, msg=f"would set {container} image to {image}", changes=[change])
    patched = kube.request("PATCH", path, body=patch, patch="strategic", what=what)
    ctx.log(f"{ref.deployment}: image {before} -> {image}; waiting for the rollout")
    try:
        final = wait_rollout(kube, patched, timeout=_timeout(ctx), cancel=ctx.cancel, log=_watching(ctx, ref.service))
    except Interrupted:
        raise
    except TargetError as exc:
        if not atomic:
            return DeployOutcome.of(
                _data(patched, ref, container, previous_image=before, previous_revision=before_revision),
                changed=True, failed=True, msg=f"rollout of {image} failed: {exc}", changes=[change])
        return _undo(kube, ctx, ref, container, before_revision, image, exc, change)
    after_revision = revision_of(final)
    return DeployOutcome.of(
        _data(final, ref, container, previous_image=before, previous_revision=before_revision),
        changed=True,
        msg=f"deployment {ref.deployment!r} rolled out {image} (revision {after_revision})",
        changes=[change],
        moved=[RevisionChange(ref.service, _rev(before_revision), _rev(after_revision), image)],
    )


def _rev(revision: int | None) -> str | None:
    return None if revision is None else str(revision)


def _undo(
    kube: Kube, ctx: StepContext, ref: ServiceRef, container: str, to_revision: int | None,
    image: str, cause: TargetError, change: Change,
) -> DeployOutcome:
    """Atomic deploys: back to the revision that ran before, with rollout undo's patch, then wait."""
    ctx.log(f"{ref.deployment}: rollout of {image} failed ({cause}); rolling back to revision {to_revision}")
    try:
        deployment = read_deployment(kube, ref)
        failed_revision = revision_of(deployment)
        replicasets = list_owned_replicasets(kube, deployment)
        target_rs = select_replicaset(deployment, replicasets, to_revision)
        body = rollback_patch(deployment, target_rs, _made(target_rs["spec"]["template"], ctx))
        patched = kube.request("PATCH", deployment_path(kube, ref.deployment), body=body,
                               patch="json", what=f"deployment {ref.deployment!r}")
    except Interrupted:
        raise
    except TargetError as exc:
        raise TargetError(f"rollout of {image} failed: {cause}; and the atomic rollback failed too: {exc}") from exc
    restored = _image_of(patched, container)
    changes = [change, Change(f"{ref.service} image", image, restored)]
    try:
        final = wait_rollout(kube, patched, timeout=_timeout(ctx), cancel=ctx.cancel, log=_watching(ctx, ref.service))
    except Interrupted:
        raise
    except TargetError as exc:
        return DeployOutcome.of(
            _data(patched, ref, container, failed_image=image, failed_revision=failed_revision, rolled_back_to=to_revision),
            changed=True, failed=True, rolled_back=True, changes=changes,
            msg=f"rollout of {image} failed: {cause}; rolled back to {restored} (revision {to_revision}'s template) "
                f"but that rollout could not be confirmed: {exc}")
    after = revision_of(final)
    return DeployOutcome.of(
        _data(final, ref, container, failed_image=image, failed_revision=failed_revision, rolled_back_to=to_revision),
        changed=True,
        failed=True,
        rolled_back=True,
        msg=f"rollout of {image} failed: {cause}; rolled back to {restored} (revision {after})",
        changes=changes,
        moved=[RevisionChange(ref.service, _rev(failed_revision), _rev(after), restored)],
    )


def rollback(kube: Kube, ctx: StepContext, ref: ServiceRef, to_revision: int | None) -> RollbackOutcome:
    """`kubectl rollout undo [--to-revision]`, including its skip, pause and not-found rules."""
    deployment = read_deployment(kube, ref)
    container = pick_container(deployment, ref, kube.target)
    replicasets = list_owned_replicasets(kube, deployment)
    chosen = select_replicaset(deployment, replicasets, to_revision)
    chosen_revision = revision_of(chosen)
    if _paused(deployment):
        raise TargetError(
            f"you cannot rollback a paused deployment; resume it first with "
            f"'kubectl rollout resume deployment/{ref.deployment}' and try again"
        )
    current_revision = revision_of(deployment)
    if equal_ignore_hash(chosen["spec"]["template"], deployment["spec"]["template"]):
        return RollbackOutcome.of(_data(deployment, ref, container, to_revision=chosen_revision),
                                  msg=f"skipped rollback (current template already matches revision {chosen_revision})")
    before = _image_of(deployment, container)
    after_image = container_images(chosen["spec"]["template"]).get(container)
    changes = [Change(f"{ref.service} revision", _rev(current_revision), _rev(chosen_revision))]
    if before != after_image:
        changes.append(Change(f"{ref.service} image", before, after_image))
    path = deployment_path(kube, ref.deployment)
    patch = rollback_patch(deployment, chosen, _made(chosen["spec"]["template"], ctx))
    what = f"deployment {ref.deployment!r}"
    if ctx.check:
        kube.request("PATCH", path, body=patch, patch="json", dry_run=True, what=what)
        return RollbackOutcome.of(_data(deployment, ref, container, to_revision=chosen_revision, image=after_image),
                                  changed=True, changes=changes,
                                  msg=f"would roll back to revision {chosen_revision} ({after_image})")
    patched = kube.request("PATCH", path, body=patch, patch="json", what=what)
    ctx.log(f"{ref.deployment}: rolling back to revision {chosen_revision}; waiting for the rollout")
    final = wait_rollout(kube, patched, timeout=_timeout(ctx), cancel=ctx.cancel, log=_watching(ctx, ref.service))
    after_revision = revision_of(final)
    return RollbackOutcome.of(
        _data(final, ref, container, previous_image=before, previous_revision=current_revision, to_revision=chosen_revision),
        changed=True,
        msg=f"deployment {ref.deployment!r} rolled back to revision {chosen_revision} ({after_image}), now revision {after_revision}",
        changes=changes,
        moved=[RevisionChange(ref.service, _rev(current_revision), _rev(after_revision), after_image)],
    )


def restart(kube: Kube, ctx: StepContext, ref: ServiceRef) -> RestartOutcome:
    """`kubectl rollout restart`: a new restartedAt annotation on the pod template, then wait."""
    deployment = read_deployment(kube, ref)
    container = pick_container(deployment, ref, kube.target)
    if _paused(deployment):
        raise TargetError(f"can't restart paused deployment {ref.deployment!r} (run rollout resume first)")
    # kubectl writes RFC 3339 to the second; sub-second precision keeps two restarts in one second distinct
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    template = copy.deepcopy(deployment["spec"]["template"])
    template.setdefault("metadata", {}).setdefault("annotations", {})[RESTARTED_AT] = now
    patch = {"metadata": {"annotations": _made(template, ctx)},
             "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}}
    path = deployment_path(kube, ref.deployment)
    what = f"deployment {ref.deployment!r}"
    change = Change(f"{ref.service} restartedAt", None, now)
    if ctx.check:
        kube.request("PATCH", path, body=patch, patch="strategic", dry_run=True, what=what)
        return RestartOutcome.of(_data(deployment, ref, container), changed=True,
                                 msg=f"would restart deployment {ref.deployment!r}", changes=[change])
    patched = kube.request("PATCH", path, body=patch, patch="strategic", what=what)
    ctx.log(f"{ref.deployment}: restarted; waiting for the rollout")
    final = wait_rollout(kube, patched, timeout=_timeout(ctx), cancel=ctx.cancel, log=_watching(ctx, ref.service))
    before, after = revision_of(deployment), revision_of(final)
    return RestartOutcome.of(
        _data(final, ref, container, restarted_at=now), changed=True,
        msg=f"deployment {ref.deployment!r} restarted (revision {after})", changes=[change],
        moved=[RevisionChange(ref.service, _rev(before), _rev(after), _image_of(final, container))],
    )


def history(kube: Kube, ctx: StepContext, ref: ServiceRef) -> RevisionList:
    """`kubectl rollout history`: revisions with image, change cause, and who made them, as registered data."""
    deployment = read_deployment(kube, ref)
    container = pick_container(deployment, ref, kube.target)
    entries = revision_history(deployment, list_owned_replicasets(kube, deployment))
    revisions = [e.as_revision(container) for e in entries]
    current = revision_of(deployment)
    lines = [f"{r.revision:<9} {r.image}  {r.user or '-'}  {r.cause or '<none>'}" for r in revisions]
    return RevisionList(
        msg=f"deployment {ref.deployment!r}: {len(revisions)} revisions, current {current}\n" + "\n".join(lines),
        service=ref.service, revisions=revisions, current=current,
        extra={"deployment": ref.deployment, "container": container},
    )
