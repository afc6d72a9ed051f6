"""Before the first action on a service in a run: make the record agree with what runs.

A run can stop anywhere (Ctrl-C while Compose keeps going, SIGKILL, a cut SSH
connection), and people run `docker compose up` by hand. So the revision
record, the override and the containers can disagree. This module compares
them, with what runs (`docker inspect` of the service's containers) as the
truth: a pending revision is committed when its image runs and aborted when
it does not; containers running an image the record does not name are
recorded as a new revision; a changed Compose config-hash is noted; the
override is made to name the current revision's image. Each resolution is a
warning, a change and (for a new current revision) a RevisionChange, so the
console and the journal say what was repaired. Check mode reports, writes
nothing.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from ajudaplay.outcomes import Change, Outcome, RevisionChange
from ajudaplay.targets.compose.cli import Container, normalize_image

if TYPE_CHECKING:
    from ajudaplay.targets.base import StepContext
    from ajudaplay.targets.compose.session import Session
    from ajudaplay.targets.compose.settings import ServiceMap
    from ajudaplay.targets.compose.state import Override, Revision, RevisionStore

O = TypeVar("O", bound=Outcome)
FOUND = "found running: changed outside ajudaplay"


@dataclass
class Notes:
    """What the check repaired, to be added to the action's result."""

    warnings: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    revisions: list[RevisionChange] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.warnings)

    def merge(self, outcome: O) -> O:
        """The outcome with what was repaired first (its lists are extended in place)."""
        outcome.warnings[:0] = self.warnings
        outcome.changes[:0] = self.changes
        outcome.moved[:0] = self.revisions
        return outcome

    def text(self) -> str:
        return "; ".join(self.warnings)


def config_of(containers: list[Container]) -> str:
    """The containers' common Compose config-hash, or "" when they differ or carry none."""
    hashes = {c.config_hash for c in containers}
    return hashes.pop() if len(hashes) == 1 else ""


def _seen(live: list[Container]) -> str:
    return ", ".join(sorted({c.image for c in live})) or "no running container"


def check(sess: Session, ctx: StepContext, svc: ServiceMap) -> Notes:
    """Compare record, override and containers; repair the record from what runs (not in check mode)."""
    notes = Notes()
    store = copy.deepcopy(sess.store)
    if store.pending(svc.compose) is None and store.current(svc.compose) is None:
        return notes  # nothing recorded yet: the first deploy adopts what runs
    live = [c for c in sess.project.containers(svc.compose, keep=True) if c.live]
    override = _resolve_pending(store, sess.override, svc, live, notes)
    override = _resolve_drift(store, override, ctx, svc, live, notes)
    if not notes:
        return notes
    if ctx.check:
        notes.warnings = [f"{w} (check mode: not recorded)" for w in notes.warnings]
        return notes
    if override != sess.override:
        sess.save_override(override)
    sess.store = store
    sess.save_revisions()
    return notes


def _resolve_pending(store: RevisionStore, override: Override, svc: ServiceMap, live: list[Container], notes: Notes) -> Override:
    """A deploy that did not finish: commit it when its image is what runs, abort it otherwise."""
    pending = store.pending(svc.compose)
    if pending is None:
        return override
    before = store.current(svc.compose)
    images = {normalize_image(c.image) for c in live}
    left = f"revision {pending.revision} ({pending.image}) was left pending by run {pending.run_id}"
    if images == {normalize_image(pending.image)}:
        rev = store.commit(svc.compose, pending, config=config_of(live), note=f"found running after run {pending.run_id} stopped")
        notes.warnings.append(f"{svc.name}: {left}, and its containers run it: recorded as revision {rev.revision}")
        notes.changes.append(Change(f"{svc.name} revision", f"{pending.revision} pending", f"{rev.revision} committed"))
        _moved(notes, svc, before, rev)
        return override
    store.abort(pending, f"run {pending.run_id} stopped before it finished; running: {_seen(live)}")
    notes.warnings.append(f"{svc.name}: {left}, but it does not run ({_seen(live)}): marked aborted")
    notes.changes.append(Change(f"{svc.name} revision", f"{pending.revision} pending", f"{pending.revision} aborted"))
    if before is None and override.image(svc.compose) == pending.image:
        return override.without_image(svc.compose)  # the first deploy never happened
    return override


def _resolve_drift(
    store: RevisionStore, override: Override, ctx: StepContext, svc: ServiceMap, live: list[Container], notes: Notes
) -> Override:
    """The current revision against the running containers' image and config, then the override."""
    current = store.current(svc.compose)
    if current is None:
        return override
    images = {normalize_image(c.image) for c in live}
    if len(images) > 1:
        notes.warnings.append(
            f"{svc.name}: its containers run different images ({_seen(live)}); the record keeps revision "
            f"{current.revision} ({current.image}); a deploy converges them"
        )
        return override
    if images and images != {normalize_image(current.image)}:
        image = live[0].image
        new = store.record(svc.compose, image, ctx.run_id, ctx.user, FOUND, config=config_of(live))
        notes.warnings.append(
            f"{svc.name}: its containers run {image}, but the record said revision {current.revision} "
            f"({current.image}): recorded {image} as revision {new.revision} (changed outside ajudaplay)"
        )
        notes.changes.append(Change(f"{svc.name} image (recorded)", current.image, image))
        _moved(notes, svc, current, new)
        current = new
    elif images and current.config and config_of(live) and config_of(live) != current.config:
        notes.warnings.append(
            f"{svc.name}: the configuration of its containers changed since revision {current.revision} was "
            f"recorded (Compose config-hash {current.config[:12]} -> {config_of(live)[:12]}): changed outside ajudaplay"
        )
        notes.changes.append(Change(f"{svc.name} config-hash", current.config[:12], config_of(live)[:12]))
        current.config = config_of(live)
    named = override.image(svc.compose)
    if named is not None and normalize_image(named) != normalize_image(current.image):
        notes.warnings.append(
            f"{svc.name}: the override named {named}, not revision {current.revision}'s {current.image}: "
            f"the override names {current.image} again, so the next `up` starts what the record says"
        )
        notes.changes.append(Change(f"{svc.name} override image", named, current.image))
        return override.with_image(svc.compose, current.image)
    return override


def _moved(notes: Notes, svc: ServiceMap, before: Revision | None, after: Revision) -> None:
    if before is None or before.revision != after.revision:
        notes.revisions.append(
            RevisionChange(svc.name, str(before.revision) if before else None, str(after.revision), after.image)
        )


def remember_config(sess: Session, ctx: StepContext, svc: ServiceMap) -> None:
    """After ajudaplay itself recreated the containers (secret, config): their new config-hash is expected."""
    current = sess.store.current(svc.compose)
    if ctx.check or current is None:
        return
    live = [c for c in sess.project.containers(svc.compose) if c.live]
    images = {normalize_image(c.image) for c in live}
    config = config_of(live)
    if images == {normalize_image(current.image)} and config and config != current.config:
        current.config = config
        sess.save_revisions()
