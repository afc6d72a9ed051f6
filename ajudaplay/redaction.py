"""Replaces secret values with a placeholder in anything that leaves the engine.

Every listener (console, JSON, JUnit, journal) receives events that went
through one Redactor, so no output path can forget it.
"""

from __future__ import annotations

from typing import Any

PLACEHOLDER = "********"
MIN_LINE = 8  # lines of a multi-line secret masked on their own from this length


class Redactor:
    """Knows the secret values of a run and masks them in strings and nested data."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        self._secrets: list[str] = []
        for value in secrets or []:
            self.add(value)

    def add(self, value: Any) -> None:
        """Mask `value` from now on; a multi-line value (a PEM key) also line by line, so
        printing part of it (`head -3 key.pem`) masks what is printed."""
        text = str(value)
        found = [text] if len(text) >= 3 else []  # shorter values would mask noise
        if "\n" in text:
            found += [line.strip() for line in text.splitlines()
                      if len(line.strip()) >= MIN_LINE and not line.startswith("-----")]
        new = [v for v in dict.fromkeys(found) if v not in self._secrets]
        if new:  # rebind, never mutate: another thread may be masking with the old list
            self._secrets = sorted([*self._secrets, *new], key=len, reverse=True)  # longest first

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
