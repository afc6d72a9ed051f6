"""Replaces secret values with a placeholder in anything that leaves the engine.

Every listener (console, JSON, JUnit, journal) receives events that went
through one Redactor, so no output path can forget it.
"""

from __future__ import annotations

from typing import Any

PLACEHOLDER = "********"


class Redactor:
    """Knows the secret values of a run and masks them in strings and nested data."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        self._secrets: list[str] = []
        for value in secrets or []:
            self.add(value)

    def add(self, value: Any) -> None:
        text = str(value)
        if len(text) >= 3 and text not in self._secrets:  # shorter values would mask noise
            self._secrets.append(text)
            self._secrets.sort(key=len, reverse=True)  # longest first: no partial leaks

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, PLACEHOLDER)
        return value

    def data(self, value: Any) -> Any:
        """Deep copy of `value` with every secret masked (dicts, lists, tuples, strings, numbers)."""
        if not self._secrets:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bytes):
            return self.text(value.decode("utf-8", "replace")).encode()
        if isinstance(value, dict):
            return {self.data(k): self.data(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.data(v) for v in value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            masked = self.text(str(value))  # a numeric secret (a PIN) rendered natively stays a number
            return value if masked == str(value) else masked
        return value
