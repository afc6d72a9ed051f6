"""Delivers engine events to every listener, secrets masked first, one at a time.

Redaction happens here, once, so no listener (console, JSON, JUnit, journal)
can forget it. A listener that raises does not stop the run: the error is kept
and reported when the run ends (a JournalError turns into exit code 5).
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any, Iterable

from ajudaplay.engine.events import Event, Listener
from ajudaplay.redaction import Redactor


def redact(value: Any, redactor: Redactor) -> Any:
    """Deep copy of an event or result with every secret value masked (dataclasses too)."""
    if not redactor:
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: redact(getattr(value, f.name), redactor) for f in dataclasses.fields(value) if f.init}
        return dataclasses.replace(value, **changes)
    if isinstance(value, dict):
        return {redact(k, redactor): redact(v, redactor) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v, redactor) for v in value)
    if isinstance(value, set):
        return {redact(v, redactor) for v in value}
    return redactor.data(value)


class EventBus:
    """Fan-out of events to listeners in order, thread-safe, redacting."""

    def __init__(self, listeners: Iterable[Listener], redactor: Redactor) -> None:
        self.listeners = list(listeners)
        self.redactor = redactor
        self.errors: list[tuple[Listener, Exception]] = []
        self._lock = threading.RLock()

    def emit(self, event: Event) -> None:
        safe = redact(event, self.redactor)
        with self._lock:
            for listener in self.listeners:
                try:
                    listener.handle(safe)
                except Exception as exc:  # a listener's bug must not kill the run
                    self.errors.append((listener, exc))

    def close(self) -> None:
        with self._lock:
            for listener in self.listeners:
                try:
                    listener.close()
                except Exception as exc:
                    self.errors.append((listener, exc))
