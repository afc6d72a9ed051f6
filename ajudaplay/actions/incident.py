"""The incident actions: `environment` (which variables the service gets) and `changes` (what moved lately).

Both are read-only and never fail on what they find: they register it, and the
playbook decides (`when: env.missing | length > 0`, `when: recent.recent`).
`environment` adds the inventory's expected names (`services.<svc>.env`) to what the
target answers, the same way on every mode. `changes` puts the journal's runs of the
target (ActionContext.recent_runs) beside the target's own history (`history`: the
times Kubernetes ReplicaSets and the Compose revision record carry).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from typing import TYPE_CHECKING, Any

from ajudaplay.actions.base import ActionSpec, Registry, same_environment
from ajudaplay.actions.durations import since_seconds
from ajudaplay.actions.service import _args, _ops, _service  # the service actions' argument rules
from ajudaplay.errors import InvalidInput, NotApplicable, TargetError

if TYPE_CHECKING:
    from ajudaplay.actions.base import ActionContext
    from ajudaplay.outcomes import EnvironmentOutcome, RevisionList
    from ajudaplay.targets.base import Result

__all__ = ["register"]

DEFAULT_SINCE = "1h"


def register(registry: Registry) -> None:
    """Add the incident actions to `registry`."""
    registry.register(ActionSpec("environment", run_environment,
                                 description="List the environment variable names a service gets (never values)."))
    registry.register(ActionSpec("changes", run_changes,
                                 description="Recent changes of a service: journal runs and target revisions."))




def expected_names(ctx: ActionContext, service: str) -> list[str]:
    """The inventory's `services.<service>.env` for this target: the names the service expects."""
    mapping = (ctx.target.spec.services or {}).get(service)
    given = mapping.get("env") if isinstance(mapping, dict) else None
    if given is None:
        return []
    if not isinstance(given, list) or not all(isinstance(n, str) and n for n in given):
        raise TargetError(f"target {ctx.target.name!r}: services.{service}.env must be a list of variable names")
    return sorted(set(given))


# environment -------------------------------------------------------------------------
def run_environment(ctx: ActionContext, args: Any) -> Result:
    """environment: {service}; names, refs, expected and missing; runs in check mode too."""
    from ajudaplay.outcomes import to_result

    service = _service("environment", _args("environment", args))
    expected = expected_names(ctx, service)
    try:
        answered = _ops(ctx, "environment").environment(ctx.step, service)
    except InvalidInput as exc:
        raise TargetError(str(exc)) from exc
    outcome: EnvironmentOutcome | None = answered.outcome
    if outcome is None:
        return answered
    names = set(outcome.names)
    missing = sorted(set(outcome.missing) | {n for n in expected if n not in names})
    msg = outcome.msg or f"{len(names)} variable(s)"
    if missing:
        msg += f"; missing: {', '.join(missing)}"
    return to_result(dataclasses.replace(outcome, expected=expected, missing=missing, msg=msg))


# changes -----------------------------------------------------------------------------
def _window(args: dict[str, Any]) -> int:
    seconds = since_seconds(args.get("since") or DEFAULT_SINCE, "changes.since")
    assert seconds is not None
    return seconds


def _epoch(text: Any) -> float | None:
    """A revision's time (ISO 8601, Z or offset) as epoch seconds; None when the target cannot tell."""
    if not isinstance(text, str) or not text:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.timestamp()


def _history(ctx: ActionContext, service: str, warnings: list[str]) -> list[dict[str, Any]]:
    """The target's revisions as data (newest first), each with `at` (epoch) when it has a time."""
    try:
        answered = _ops(ctx, "history").history(ctx.step, service)
    except NotApplicable as exc:
        warnings.append(f"no target history: {exc}")
        return []
    listing: RevisionList | None = answered.outcome
    if listing is None:
        return []
    rows = []
    for rev in listing.revisions:
        row = rev.as_data()
        row["at"] = _epoch(rev.time)
        rows.append(row)
    rows.sort(key=lambda r: int(r["revision"]), reverse=True)
    return rows


def run_changes(ctx: ActionContext, args: Any) -> Result:
    """changes: {service, since}; the journal's runs and the target's revisions inside the window."""
    from ajudaplay.results import Result as Plain

    service = _service("changes", _args("changes", args))
    window = _window(args if isinstance(args, dict) else {})
    now = time.time()
    since = now - window
    warnings: list[str] = []
    runs = []
    for run in ctx.recent_runs(ctx.target.name, since):
        if run.get("run_id") == ctx.step.run_id or run.get("check"):
            continue  # this very run, and check-mode runs, changed nothing
        if not same_environment(ctx, run):
            continue  # a target of the same name in another environment (one team journal)
        moves = [m for m in run.get("revisions") or [] if m.get("service") == service]
        if not moves and not run.get("changed"):
            continue  # read-only runs (triage) touched the target but changed nothing
        runs.append(dict(run, revisions=moves))
    history = _history(ctx, service, warnings)
    revisions = [r for r in history if r["at"] is not None and r["at"] >= since]
    newest = None
    if history:
        top = history[0]
        newest = dict(top, age=None if top["at"] is None else round(now - top["at"], 1), in_window=top in revisions)
    previous = history[1]["revision"] if len(history) > 1 else None
    recent = bool(runs or revisions)
    parts = [f"{len(runs)} run(s)", f"{len(revisions)} revision(s)"]
    msg = f"{service}: {' and '.join(parts)} in the last {args.get('since') or DEFAULT_SINCE}"
    if runs:
        last = runs[0]
        msg += f"; last by {last.get('user')} ({last.get('playbook')}, {last.get('status')})"
    data = {"service": service, "since": args.get("since") or DEFAULT_SINCE, "window": window, "runs": runs,
            "revisions": revisions, "recent": recent, "newest": newest,
            "current": next((r["revision"] for r in history if r.get("current")), None), "previous": previous}
    return Plain(msg=msg, data=data, warnings=warnings)
