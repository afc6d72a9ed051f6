"""Fixtures for reporter tests: the scripted run, and feeding it to a listener."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from ajudaplay.engine.events import Event, Listener
from tests.report import scripted


def feed(listener: Listener, events: Iterable[Event]) -> None:
    """Deliver events like the engine does, then close."""
    for event in events:
        listener.handle(event)
    listener.close()


@pytest.fixture
def run_events() -> list[Event]:
    return scripted.events()
