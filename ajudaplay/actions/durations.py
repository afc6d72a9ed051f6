"""Durations as kubectl takes them (`logs.since`): Go's 10m, 1h, 1h30m, 45s, 500ms."""

from __future__ import annotations

import re
from typing import Any

from ajudaplay.errors import TargetError

DURATION_RE = re.compile(r"^(?:(\d+(?:\.\d+)?)(h|ms|m|s))+$")
DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def since_seconds(value: Any) -> int | None:
    """`since` as kubectl takes it (a Go duration: 10m, 1h, 1h30m, 45s) -> whole seconds, rounded up."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if DURATION_RE.match(text) is None:
        raise TargetError(f"logs.since: {value!r} is not a duration like 10m, 1h or 1h30m (as kubectl logs --since)")
    seconds = sum(float(n) * DURATION_UNITS[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s)", text))
    if seconds <= 0:
        raise TargetError(f"logs.since: {value!r} must be longer than 0s")
    return max(1, int(-(-seconds // 1)))
