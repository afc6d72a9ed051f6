"""One shape for "why a service will not start" on every mode: the entries of `status.why`.

Each entry is a plain mapping with the same keys on Kubernetes and Compose, so a
playbook tests `status.why` once (`st.why | map(attribute='reason') | list`):

    object      "Pod/api-7d9c-x2k4", "ReplicaSet/...", "Deployment/api"; Compose: "Container/proj-api-1"
    pod         the pod's name; Compose: the container's name; None for a Deployment/ReplicaSet entry
    container   the container's name (Kubernetes), the Compose service's name, or None
    reason      CrashLoopBackOff, ErrImagePull, OOMKilled, Error, FailedScheduling, Unhealthy, Exited, ...
    message     what the cluster or the engine said (a probe's output, an event's text)
    exit_code   of the last termination, when there is one
    count       how often: an event's count, a container's restarts, failed health checks
    last_seen   when it last happened (RFC 3339 as the API/engine gives it), or None
    source      where it comes from: waiting, terminated, condition, event (Kubernetes); waiting, terminated,
                health (Compose)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

MAX_ENTRIES = 50  # registered data stays readable; the newest are kept
MAX_MESSAGE = 1000


@dataclass(frozen=True)
class Problem:
    object: str
    pod: str | None
    container: str | None
    reason: str
    message: str = ""
    exit_code: int | None = None
    count: int = 1
    last_seen: str | None = None
    source: str = ""

    def as_data(self) -> dict[str, Any]:
        data = asdict(self)
        if len(self.message) > MAX_MESSAGE:
            data["message"] = self.message[:MAX_MESSAGE] + "..."
        return data


STATE_SOURCES = ("condition", "waiting", "terminated", "health")


def ordered(problems: list[Problem]) -> list[dict[str, Any]]:
    """Current states first (as found, pod by pod), then events newest first; repeats merged.

    A repeat is the same object, container, reason, exit code and source (a container's
    current and previous termination alike): the one seen last is kept.
    """
    merged: dict[tuple[Any, ...], Problem] = {}
    for p in problems:
        key = (p.object, p.container, p.reason, p.exit_code, p.source, p.message if p.source == "event" else "")
        kept = merged.get(key)
        if kept is None or (p.last_seen or "") > (kept.last_seen or ""):
            merged[key] = p
    states = [p for p in merged.values() if p.source in STATE_SOURCES]
    events = sorted((p for p in merged.values() if p.source not in STATE_SOURCES),
                    key=lambda p: p.last_seen or "", reverse=True)
    return [p.as_data() for p in [*states, *events][:MAX_ENTRIES]]


def summary(why: list[dict[str, Any]], limit: int = 3) -> str:
    """A line for the step's message: the first few reasons and where."""
    parts = [f"{w['reason']} ({w['pod'] or w['object']}{'/' + w['container'] if w['container'] and w['pod'] else ''})"
             for w in why[:limit]]
    more = f" and {len(why) - limit} more" if len(why) > limit else ""
    return ", ".join(parts) + more
