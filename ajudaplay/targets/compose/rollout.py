"""deploy, rollback and history for a Compose service, with revisions kept on the host.

deploy sets the image in ajudaplay's override file, pulls it unless the engine
has it, `up -d --no-deps` only that service (keeping its replica count) and
waits until healthy. `atomic` puts the revision that was running back when the
new containers do not become healthy. rollback re-deploys a recorded revision.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ajudaplay.errors import TargetError
from ajudaplay.targets.base import Change, Result, RevisionChange
from ajudaplay.targets.compose.cli import Container, normalize_image
from ajudaplay.targets.compose.health import DEFAULT_TIMEOUT, HealthFailure, wait_healthy
from ajudaplay.targets.compose.state import Revision

if TYPE_CHECKING:
    from ajudaplay.targets.base import StepContext
    from ajudaplay.targets.compose.session import Session
    from ajudaplay.targets.compose.settings import ServiceMap

ADOPTED = "adopted: running before ajudaplay's first deploy"


def _at_image(containers: list[Container], image: str) -> bool:
    return bool(containers) and all(
        normalize_image(c.image) == normalize_image(image) and c.status == "running" for c in containers
    )


def _images(containers: list[Container]) -> str | None:
    return ", ".join(sorted({c.image for c in containers})) or None


def apply_image(
    sess: Session, ctx: StepContext, svc: ServiceMap, image: str, replicas: int, health_url: str | None
) -> list[Container]:
    """Point the override at `image`, `up -d` the one service, wait healthy (HealthFailure if not)."""
    timeout = ctx.timeout or DEFAULT_TIMEOUT
    project = sess.project
    project.ensure_image(image, timeout)
    if sess.override.image(svc.compose) != image:
        sess.save_override(sess.override.with_image(svc.compose, image))
    project.compose(
        "up", "-d", "--no-deps", "--scale", f"{svc.compose}={replicas}", svc.compose,
        what=f"starting service {svc.compose!r} at {image}", timeout=timeout,
    )
    return wait_healthy(project, ctx, svc.compose, image, replicas, health_url or svc.health_url, timeout)


def _adopt(sess: Session, ctx: StepContext, svc: ServiceMap, containers: list[Container]) -> Revision | None:
    """First deploy by ajudaplay: record what was running as revision 1, so rollback can return to it."""
    if sess.store.current(svc.compose) is not None or not containers:
        return sess.store.current(svc.compose)
    return sess.store.record(svc.compose, containers[0].image, ctx.run_id, ctx.user, ADOPTED)


def deploy(sess: Session, ctx: StepContext, svc: ServiceMap, image: str, atomic: bool, health_url: str | None) -> Result:
    """Set the service's image and wait until healthy; `ok` when already there."""
    containers = sess.project.containers(svc.compose)
    replicas = max(1, len(containers))
    data: dict[str, object] = {"service": svc.name, "image": image, "replicas": replicas}
    if _at_image(containers, image) and sess.override.image(svc.compose) in (None, image):
        sick = [c.name for c in containers if c.health == "unhealthy"]
        if not ctx.check and sess.store.current(svc.compose) is None:
            _adopt(sess, ctx, svc, containers)
            sess.save_revisions()
        current = sess.store.current(svc.compose)
        data["revision"] = current.revision if current else None
        if sick:
            return Result(failed=True, msg=f"{svc.name} runs {image} but is unhealthy: {', '.join(sick)}", data=data)
        return Result(msg=f"{svc.name} already at {image}", data=data)
    before = _images(containers)
    change = Change(f"{svc.name} image", before, image)
    if ctx.check:
        return Result(changed=True, changes=[change], msg=f"would deploy {image} to {svc.name}", data=data)
    previous = _adopt(sess, ctx, svc, containers)
    try:
        apply_image(sess, ctx, svc, image, replicas, health_url)
    except HealthFailure as exc:
        if atomic and previous is not None and previous.image != image:
            return _undo(sess, ctx, svc, image, previous, replicas, str(exc), change, data)
        new = sess.store.record(svc.compose, image, ctx.run_id, ctx.user, "deploy (not healthy)")
        sess.save_revisions()
        return Result(
            changed=True, failed=True, changes=[change], data=data, msg=str(exc),
            revisions=[RevisionChange(svc.name, _num(previous), str(new.revision), image)],
        )
    new = sess.store.record(svc.compose, image, ctx.run_id, ctx.user, "deploy")
    sess.save_revisions()
    data["revision"] = new.revision
    return Result(
        changed=True, changes=[change], data=data, msg=f"{svc.name} at {image} (revision {new.revision}), healthy",
        revisions=[RevisionChange(svc.name, _num(previous), str(new.revision), image)],
    )


def _num(rev: Revision | None) -> str | None:
    return str(rev.revision) if rev else None


def _undo(
    sess: Session, ctx: StepContext, svc: ServiceMap, image: str, previous: Revision, replicas: int,
    reason: str, change: Change, data: dict[str, object],
) -> Result:
    """Atomic deploy failed: put the revision that was running back, and say so."""
    ctx.log(f"{reason}; rolling {svc.name} back to revision {previous.revision} ({previous.image})")
    sess.save_revisions()  # the adopted revision, if any, is worth keeping
    try:
        apply_image(sess, ctx, svc, previous.image, replicas, None)
    except (HealthFailure, TargetError) as exc:
        return Result(
            changed=True, failed=True, changes=[change], data=data,
            msg=f"deploy of {image} failed: {reason}; rollback to revision {previous.revision} "
            f"({previous.image}) ALSO failed: {exc}",
        )
    data["revision"] = previous.revision
    data["rolled_back_to"] = previous.revision
    return Result(
        changed=True, failed=True, rolled_back=True, data=data,
        changes=[change, Change(f"{svc.name} image", image, previous.image)],
        msg=f"deploy of {image} failed: {reason}; rolled back to revision {previous.revision} ({previous.image})",
    )


def rollback(sess: Session, ctx: StepContext, svc: ServiceMap, to_revision: int | None) -> Result:
    """Re-deploy the previous (second-highest) revision, or the one asked for."""
    store = sess.store
    history = store.history(svc.compose)
    known = ", ".join(str(r.revision) for r in history) or "none"
    if not history:
        raise TargetError(
            f"service {svc.name!r} on target {sess.settings.target!r} has no recorded revision to roll back to; "
            "revisions are recorded by `deploy` steps"
        )
    current = history[-1]
    if to_revision is None:
        wanted = store.previous(svc.compose)
        if wanted is None:
            raise TargetError(
                f"service {svc.name!r} has no earlier revision to roll back to "
                f"(only revision {current.revision}: {current.image})"
            )
    else:
        found = store.find(svc.compose, to_revision)
        if found is None:
            raise TargetError(f"service {svc.name!r} has no revision {to_revision}; revisions: {known}")
        wanted = found
    containers = sess.project.containers(svc.compose)
    data: dict[str, object] = {"service": svc.name, "image": wanted.image, "to_revision": wanted.revision}
    if wanted is current and _at_image(containers, wanted.image):
        data["revision"] = current.revision
        return Result(msg=f"{svc.name} already at revision {current.revision} ({current.image})", data=data)
    change = Change(f"{svc.name} image", _images(containers), wanted.image)
    if ctx.check:
        return Result(
            changed=True, changes=[change], data=data,
            msg=f"would roll {svc.name} back to revision {wanted.revision} ({wanted.image})",
        )
    replicas = max(1, len(containers))
    cause = f"rollback to revision {wanted.revision}"
    try:
        apply_image(sess, ctx, svc, wanted.image, replicas, None)
    except HealthFailure as exc:
        new = store.record(svc.compose, wanted.image, ctx.run_id, ctx.user, cause + " (not healthy)")
        sess.save_revisions()
        return Result(
            changed=True, failed=True, changes=[change], data=data, msg=str(exc),
            revisions=[RevisionChange(svc.name, str(current.revision), str(new.revision), wanted.image)],
        )
    new = store.record(svc.compose, wanted.image, ctx.run_id, ctx.user, cause)
    sess.save_revisions()
    data["revision"] = new.revision
    return Result(
        changed=True, changes=[change], data=data,
        msg=f"{svc.name} rolled back to revision {wanted.revision} ({wanted.image}), now revision {new.revision}, healthy",
        revisions=[RevisionChange(svc.name, str(current.revision), str(new.revision), wanted.image)],
    )


def history(sess: Session, svc: ServiceMap) -> Result:
    """The recorded revisions, like `kubectl rollout history`, as text and registered data."""
    revs = sess.store.history(svc.compose)
    rows = [r.__dict__.copy() for r in revs]
    lines = [f"{'REVISION':<9} {'IMAGE':<40} {'TIME':<26} {'USER':<16} CAUSE"]
    lines += [f"{r.revision:<9} {r.image:<40} {r.time:<26} {r.user or '-':<16} {r.cause}" for r in revs]
    return Result(
        msg="\n".join(lines) if revs else f"{svc.name}: no revisions recorded",
        data={"service": svc.name, "revisions": rows, "current": revs[-1].revision if revs else None},
    )
