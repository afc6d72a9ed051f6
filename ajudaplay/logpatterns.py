"""Log lines counted per source and per message pattern: the runbook's "which pod, which error".

A burst of errors is read as "pod api-7d9f... logged 412 lines, 380 of them `upstream timed out
after <n> ms (request <uuid>)`", not as 412 lines to scroll. A line's pattern is its message with
the parts that differ between occurrences replaced by placeholders: timestamps `<ts>`, UUIDs
`<uuid>`, IPv4 addresses `<ip>`, hex numbers `<hex>` (0x... or 8+ hex digits with a digit and a
letter in them), and other numbers `<n>` (not those glued to a word: `http2`, `v1.2` stay).
Lines whose patterns are equal are the same error.

Lines come as the `logs` verb gives them: "<source> <text>", the source being the pod's (Compose:
the container's) name. A pure core module: text in, counts out.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Iterable

__all__ = ["TOP", "normalise", "patterns", "sources", "split_source"]

TOP = 10  # patterns kept, by count

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # ISO 8601 / RFC 3339 and "2024-01-02 10:00:00,123" timestamps, with optional fraction and zone
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"), "<ts>"),
    # syslog and nginx forms: "Jan  2 10:00:00", "02/Jan/2024:10:00:00 +0000"
    (re.compile(r"\b\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2}(?: [+-]\d{4})?"), "<ts>"),
    (re.compile(r"\b[A-Z][a-z]{2} {1,2}\d{1,2} \d{2}:\d{2}:\d{2}\b"), "<ts>"),
    (re.compile(r"\b\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\b"), "<ts>"),
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"), "<uuid>"),
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"), "<ip>"),
    (re.compile(r"\b0[xX][0-9a-fA-F]+\b"), "<hex>"),
    (re.compile(r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b"), "<hex>"),
    # numbers not glued to a word on their left (5001, 3.5 of "3.5s", 17 of "item-17"; not "http2", "v1.2")
    (re.compile(r"(?<![A-Za-z0-9.])\d+(?:\.\d+)*"), "<n>"),
)
_SPACES = re.compile(r"\s+")
_MAX_PATTERN = 300  # characters: a pattern is a label, not a copy of a long line
_MAX_EXAMPLE = 500


def split_source(line: str) -> tuple[str, str]:
    """("<source>", "<text>") of a line as `logs` prefixes it; a line without a space is all source."""
    source, _, text = line.partition(" ")
    return source, text


def normalise(text: str) -> str:
    """The message pattern of one line's text: variable parts replaced by placeholders, spaces squeezed."""
    for rule, placeholder in _RULES:
        text = rule.sub(placeholder, text)
    text = _SPACES.sub(" ", text).strip()
    return text if len(text) <= _MAX_PATTERN else text[:_MAX_PATTERN - 1] + "…"


def sources(lines: Iterable[str]) -> dict[str, int]:
    """{source: number of lines}, most lines first (ties by name)."""
    counts = Counter(split_source(line)[0] for line in lines if line)
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def patterns(lines: Iterable[str], top: int = TOP) -> list[dict[str, Any]]:
    """The `top` most frequent message patterns: [{pattern, count, example}] (example: the first such line).

    Ties keep the order in which the patterns first appeared; empty messages are not counted.
    """
    counts: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for line in lines:
        text = split_source(line)[1]
        if not text.strip():
            continue
        pattern = normalise(text)
        counts[pattern] += 1
        examples.setdefault(pattern, line if len(line) <= _MAX_EXAMPLE else line[:_MAX_EXAMPLE - 1] + "…")
    order = {p: i for i, p in enumerate(examples)}
    ranked = sorted(counts, key=lambda p: (-counts[p], order[p]))[:top]
    return [{"pattern": p, "count": counts[p], "example": examples[p]} for p in ranked]
