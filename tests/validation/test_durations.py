"""One duration parser for every duration argument (logs/changes `since`, cleanup `older_than`,
metrics `--failure-window`): Go's units as kubectl takes them, plus days."""

from __future__ import annotations

import pytest

from ajudaplay.actions.durations import duration, since_seconds
from ajudaplay.actions.storage import older_than_minutes
from ajudaplay.errors import TargetError
from ajudaplay.metrics_command import parse_window


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("1h30m", 5400), ("500ms", 0.5), ("2d", 172800),
                                               ("1d12h", 129600), ("1.5h", 5400)])
def test_units_and_sums(text: str, seconds: float) -> None:
    assert duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "10", "1w", "h1", "1h 30m", "-5m", "1hh"])
def test_what_is_not_a_duration(text: str) -> None:
    assert duration(text) is None


def test_every_argument_reads_the_same_durations() -> None:
    assert since_seconds("1d") == 86400 and since_seconds("1500ms") == 2  # whole seconds, rounded up
    assert older_than_minutes("7d") == 7 * 24 * 60
    assert parse_window("1h30m") == 5400
    with pytest.raises(TargetError, match="not a duration like 10m"):
        since_seconds("ten minutes")
    with pytest.raises(TargetError, match="shorter than a minute"):
        older_than_minutes("30s")
