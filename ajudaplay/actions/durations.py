"""Durations as operators write them: Go's (kubectl `--since`) 10m, 1h, 1h30m, 45s, 500ms, plus days (7d).

One parser for every duration argument: `logs.since`, `changes.since`, `cleanup.older_than` and the
`metrics --failure-window` flag.
"""

from __future__ import annotations

import re
from typing import Any

from ajudaplay.errors import TargetError

DURATION_RE = re.compile(r"^(?:(\d+(?:\.\d+)?)(d|h|ms|m|s))+$")
DURATION_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_PART = re.compile(r"(\d+(?:\.\d+)?)(d|h|ms|m|s)")


def duration(text: str) -> float | None:
    """`1h30m` -> 5400.0 seconds; None when `text` is not a duration."""
    text = text.strip()
    if DURATION_RE.match(text) is None:
        return None
    return sum(float(n) * DURATION_UNITS[u] for n, u in _PART.findall(text))


def since_seconds(value: Any, name: str = "logs.since") -> int | None:
    """`since` as kubectl takes it (a Go duration: 10m, 1h, 1h30m, 45s; or 2d) -> whole seconds, rounded up."""
    if value is None or value == "":
        return None
    seconds = duration(str(value))
    if seconds is None:
        raise TargetError(f"{name}: {value!r} is not a duration like 10m, 1h or 1h30m (as kubectl logs --since)")
    if seconds <= 0:
        raise TargetError(f"{name}: {value!r} must be longer than 0s")
    return max(1, int(-(-seconds // 1)))
