"""KEY=VALUE env files, parsed one way for inventory secrets and the `secret` action."""

from __future__ import annotations

import re

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def parse_env(text: str, key_pattern: re.Pattern[str] = _KEY) -> tuple[dict[str, str], list[int]]:
    """Values by key, and the numbers of the lines that are not KEY=VALUE.

    Blank lines, `# comments` and an `export ` prefix are allowed; matching
    quotes around a value are stripped. `key_pattern` says which keys are
    valid (inventories need variable names). Bad lines are returned by number only:
    their text may hold a secret, so callers must never echo it.
    """
    values: dict[str, str] = {}
    bad: list[int] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key_pattern.match(key):
            bad.append(number)
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values, bad
