"""deploy, rollback and history for a Compose service, with revisions kept on the host.

deploy pulls the image unless the engine has it (a missing image changes
nothing), writes its intent (a pending revision), sets the image in
ajudaplay's override, `up -d --no-deps` only that service (keeping its count
of running replicas) and waits until healthy, then commits the revision.
`atomic`: any failure after the first write (`up` refused: port taken, bad
config, a start that fails; or not healthy) puts the previous override and
containers back and marks the revision aborted, as Kubernetes undoes on any
error. Not atomic: the override keeps the new image and the failed revision
is recorded as current (cause "... (failed)"), as a Deployment keeps its new
template. Interrupted or unreachable: the revision stays pending and the next
action resolves it from what runs (reconcile.py). rollback re-deploys a
recorded revision the same way, without undo.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ajudaplay.errors import TargetError, TargetUnreachable
from ajudaplay.outcomes import (
    Change, DeployOutcome, Replicas, Revision as Entry, RevisionChange, RevisionList, RollbackOutcome,
)
from ajudaplay.targets.compose.cli import Container, normalize_image
from ajudaplay.outcomes import DEFAULT_WAIT
from ajudaplay.targets.compose.health import HealthFailure, wait_healthy
from ajudaplay.targets.compose.reconcile import config_of
from ajudaplay.targets.compose.state import ABORTED, PENDING, Revision

if TYPE_CHECKING:
    from ajudaplay.targets.base import StepContext
    from ajudaplay.targets.compose.session import Session
    from ajudaplay.targets.compose.settings import ServiceMap
    from ajudaplay.targets.compose.state import Override

ADOPTED = "adopted: running before ajudaplay's first deploy"


def _at_image(containers: list[Container], image: str) -> bool:
    """Every container (leftovers included) runs `image`: nothing for `up` to do."""
    return bool(containers) and all(
        normalize_image(c.image) == normalize_image(image) and c.status == "running" for c in containers
    )


def _images(containers: list[Container]) -> str | None:
    return ", ".join(sorted({c.image for c in containers})) or None


def counts(containers: list[Container], desired: int) -> Replicas:
    """Replica counts like a Deployment's: running containers, and those healthy (or without a healthcheck)."""
    running = [c for c in containers if c.status == "running"]
    ready = len([c for c in running if c.health in (None, "healthy")])
    return Replicas(desired=desired, current=len(running), ready=ready, available=ready)


def replicas_of(containers: list[Container]) -> int:
    """The replica count to keep: live containers only (created/exited ones are leftovers), at least 1."""
    return max(1, len([c for c in containers if c.live]))


def apply(
    sess: Session, ctx: StepContext, svc: ServiceMap, override: Override, image: str, replicas: int,
    health_url: str | None,
) -> list[Container]:
    """Write `override` if it differs, `up -d` the one service, wait until `image` is healthy."""
    timeout = ctx.timeout or DEFAULT_WAIT
    if override != sess.override:
        sess.save_override(override)
    sess.project.compose(
        "up", "-d", "--no-deps", "--scale", f"{svc.compose}={replicas}", svc.compose,
        what=f"starting service {svc.compose!r} at {image}", timeout=timeout,
    )
    return wait_healthy(sess.project, ctx, svc.compose, image, replicas, health_url or svc.health_url, timeout)


def _adopt(sess: Session, ctx: StepContext, svc: ServiceMap, containers: list[Container]) -> Revision | None:
    """First deploy by ajudaplay: record what was running as revision 1, so rollback can return to it."""
    live = [c for c in containers if c.live]
    if sess.store.current(svc.compose) is not None or not live:
        return sess.store.current(svc.compose)
    return sess.store.record(svc.compose, live[0].image, ctx.run_id, ctx.user, ADOPTED, config=config_of(live))


def deploy(sess: Session, ctx: StepContext, svc: ServiceMap, image: str, atomic: bool,
           health_url: str | None) -> DeployOutcome:
    """Set the service's image and wait until healthy; `ok` when already there."""
    containers = sess.project.containers(svc.compose)
    replicas = replicas_of(containers)
    now = sess.store.current(svc.compose)
    base = DeployOutcome(service=svc.name, image=image, revision=now.revision if now else None,
                         replicas=counts(containers, replicas))
    if _at_image(containers, image) and sess.override.image(svc.compose) in (None, image):
        sick = [c.name for c in containers if c.health == "unhealthy"]
        if not ctx.check and sess.store.current(svc.compose) is None:
            _adopt(sess, ctx, svc, containers)
            sess.save_revisions()
        current = sess.store.current(svc.compose)
        base = base.but(revision=current.revision if current else None)
        if sick:
            return base.but(failed=True, msg=f"{svc.name} runs {image} but is unhealthy: {', '.join(sick)}")
        return base.but(msg=f"{svc.name} already at {image}")
    change = Change(f"{svc.name} image", _images(containers), image)
    if ctx.check:
        return base.but(changed=True, changes=[change], msg=f"would deploy {image} to {svc.name}")
    previous = _adopt(sess, ctx, svc, containers)
    undo_to = previous if atomic and previous is not None and previous.image != image else None
    return roll(sess, ctx, svc, Roll(image, replicas, health_url, "deploy", change, undo_to),
                f"{svc.name} at {image} (revision {{revision}}), healthy")


@dataclass
class Roll:
    """One move of a service to an image: what, how many, why, and where to go back on failure."""

    image: str
    replicas: int
    health_url: str | None
    cause: str
    change: Change
    undo_to: Revision | None  # atomic: the revision to put back


def _now(sess: Session, svc: ServiceMap, move: Roll, image: str, revision: int | None, **common: Any) -> DeployOutcome:
    """The outcome of a move, with the replica counts read after it."""
    replicas = counts(sess.project.containers(svc.compose), move.replicas)
    return DeployOutcome(service=svc.name, image=image, revision=revision, replicas=replicas, **common)


def roll(sess: Session, ctx: StepContext, svc: ServiceMap, move: Roll, done: str) -> DeployOutcome:
    """Pull, write the intent, apply, then commit it; on failure undo (atomic) or record what was left."""
    sess.project.ensure_image(move.image, ctx.timeout or DEFAULT_WAIT)  # before any write
    prior = sess.override
    before = sess.store.current(svc.compose)
    intent = sess.store.begin(svc.compose, move.image, ctx.run_id, ctx.user, move.cause)
    sess.save_revisions()  # the intent is on the host before anything changes
    try:
        running = apply(sess, ctx, svc, prior.with_image(svc.compose, move.image), move.image, move.replicas,
                        move.health_url)
    except TargetError as exc:
        if ctx.cancelled() or isinstance(exc, TargetUnreachable):
            raise  # stopped or cut off: the intent stays pending; the next action resolves it from what runs
        if move.undo_to is not None:
            return _undo(sess, ctx, svc, move, move.undo_to, intent, prior, exc)
        failed = "not healthy" if isinstance(exc, HealthFailure) else "failed"
        new = sess.store.commit(svc.compose, intent, cause=f"{move.cause} ({failed})", note=str(exc))
        sess.save_revisions()
        return _now(sess, svc, move, move.image, new.revision, changed=True, failed=True, changes=[move.change],
                    msg=str(exc), moved=_moved(svc, before, new))
    new = sess.store.commit(svc.compose, intent, config=config_of(running))
    sess.save_revisions()
    return DeployOutcome(service=svc.name, image=move.image, revision=new.revision,
                         replicas=counts(running, move.replicas), changed=True, changes=[move.change],
                         msg=done.format(revision=new.revision), moved=_moved(svc, before, new))


def _moved(svc: ServiceMap, before: Revision | None, after: Revision) -> list[RevisionChange]:
    if before is not None and before.revision == after.revision:
        return []
    return [RevisionChange(svc.name, _num(before), str(after.revision), after.image)]


def _num(rev: Revision | None) -> str | None:
    return str(rev.revision) if rev else None


def _undo(
    sess: Session, ctx: StepContext, svc: ServiceMap, move: Roll, previous: Revision, intent: Revision,
    prior: Override, exc: TargetError,
) -> DeployOutcome:
    """Atomic deploy failed: the previous override and containers back, the revision aborted, and say so."""
    reason = str(exc)
    ctx.log(f"{reason}; rolling {svc.name} back to revision {previous.revision} ({previous.image})")
    restore = prior if prior.image(svc.compose) is not None else prior.with_image(svc.compose, previous.image)
    try:
        apply(sess, ctx, svc, restore, previous.image, move.replicas, None)
    except TargetError as again:
        if ctx.cancelled() or isinstance(again, TargetUnreachable):
            raise
        sess.store.abort(intent, f"{reason}; the rollback failed too: {again}")
        sess.save_revisions()
        return _now(
            sess, svc, move, move.image, None, changed=True, failed=True, changes=[move.change],
            msg=f"deploy of {move.image} failed: {reason}; rollback to revision {previous.revision} "
            f"({previous.image}) ALSO failed: {again}",
        )
    sess.store.abort(intent, reason)
    sess.save_revisions()
    return _now(
        sess, svc, move, previous.image, previous.revision, rolled_back_to=previous.revision,
        changed=True, failed=True, rolled_back=True,
        changes=[move.change, Change(f"{svc.name} image", move.image, previous.image)],
        msg=f"deploy of {move.image} failed: {reason}; rolled back to revision {previous.revision} ({previous.image})",
    )


def rollback(sess: Session, ctx: StepContext, svc: ServiceMap, to_revision: int | None) -> RollbackOutcome:
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
    base = RollbackOutcome(service=svc.name, image=wanted.image, to_revision=wanted.revision, revision=current.revision)
    if wanted is current and _at_image(containers, wanted.image):
        return base.but(msg=f"{svc.name} already at revision {current.revision} ({current.image})")
    change = Change(f"{svc.name} image", _images(containers), wanted.image)
    if ctx.check:
        return base.but(changed=True, changes=[change],
                        msg=f"would roll {svc.name} back to revision {wanted.revision} ({wanted.image})")
    move = Roll(wanted.image, replicas_of(containers), None, f"rollback to revision {wanted.revision}", change, None)
    done = roll(sess, ctx, svc, move,
                f"{svc.name} rolled back to revision {wanted.revision} ({wanted.image}), now revision {{revision}}, healthy")
    return RollbackOutcome(service=svc.name, image=wanted.image, to_revision=wanted.revision, revision=done.revision,
                           **done.common())


def history(sess: Session, svc: ServiceMap) -> RevisionList:
    """The recorded revisions, like `kubectl rollout history`, plus deploys pending or aborted since."""
    entries = sess.store.entries(svc.compose)
    revs = [r for r in entries if r.status not in (PENDING, ABORTED)]
    lines = [f"{'REVISION':<9} {'STATUS':<10} {'IMAGE':<40} {'TIME':<26} {'USER':<16} CAUSE"]
    lines += [
        f"{r.revision:<9} {r.status:<10} {r.image:<40} {r.time:<26} {r.user or '-':<16} {r.cause}"
        + (f" ({r.note[:200]})" if r.note and r.status != "committed" else "")
        for r in entries
    ]
    current = revs[-1].revision if revs else None
    return RevisionList(
        msg="\n".join(lines) if entries else f"{svc.name}: no revisions recorded",
        service=svc.name,
        revisions=[_entry(r, r.revision == current) for r in revs],
        current=current,
        extra={"not_committed": [r.__dict__.copy() for r in entries if r.status in (PENDING, ABORTED)]},
    )


def _entry(rev: Revision, current: bool) -> Entry:
    """A recorded revision as a history line: who and which run made it; Compose's status, config-hash, note."""
    return Entry(revision=rev.revision, image=rev.image, time=rev.time or None, user=rev.user or None,
                 run_id=rev.run_id or None, cause=rev.cause or None, current=current,
                 extra={"status": rev.status, "config": rev.config, "note": rev.note})
