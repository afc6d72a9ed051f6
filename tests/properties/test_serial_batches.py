"""`serial` batching: batches cover every target exactly once, in order, sized as Ansible sizes them."""

from __future__ import annotations

import pathlib
import tempfile
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from ajudaplay.engine.events import TaskStarted
from ajudaplay.engine.play import batch_sizes
from tests.engine.conftest import Harness, fakes
from tests.properties.strategies import FAST, SLOW

SPEC = st.one_of(st.integers(1, 12), st.integers(1, 100).map(lambda p: f"{p}%"))


def wanted(spec: int | str, total: int, left: int) -> int:
    """One batch: N, or floor(total * P / 100) computed exactly; at least 1, at most what is left."""
    size = int(Fraction(total * int(spec[:-1]), 100)) if isinstance(spec, str) else spec
    return max(1, min(size, left))


@FAST
@given(st.lists(SPEC, max_size=4), st.integers(0, 60))
def test_batch_sizes_cover_every_target_once(serial: list[int | str], total: int) -> None:
    sizes = batch_sizes(serial, total)
    assert sum(sizes) == total and all(size >= 1 for size in sizes)
    if not serial and total:
        assert sizes == [total]
    left = total
    for index, size in enumerate(sizes if serial else []):  # the last value repeats
        assert size == wanted(serial[min(index, len(serial) - 1)], total, left)
        left -= size


@SLOW
@given(st.lists(SPEC, min_size=1, max_size=3), st.integers(1, 7))
def test_the_engine_runs_each_target_once_batch_after_batch(serial: list[int | str], total: int) -> None:
    with tempfile.TemporaryDirectory(prefix="ajudaplay-serial-") as folder:
        h = Harness(pathlib.Path(folder))
        h.run(f"- hosts: all\n  serial: {serial!r}\n  tasks:\n    - {{name: a, status: {{service: api}}}}\n", fakes(total))
    batches = [e.targets for e in h.collector.events if isinstance(e, TaskStarted) and e.task == "a"]
    assert [t for batch in batches for t in batch] == [f"t{i}" for i in range(1, total + 1)]
    assert [len(b) for b in batches] == batch_sizes(serial, total)
    ends = [max(c.ended for c in h.targets[t].calls if c.method == "status") for t in batches[0]] if batches else []
    for later in batches[1:]:  # the next batch starts after the previous one finished
        starts = [min(c.started for c in h.targets[t].calls if c.method == "status") for t in later]
        assert min(starts) >= max(ends)
        ends = [max(c.ended for c in h.targets[t].calls if c.method == "status") for t in later]
