"""One line per change a step made, as an operator reads it: `config/nginx/default.conf: 3 lines changed (sha256 1a2b3c4d… → 9f8e7d6c…)`.

Targets describe a change as (what, before, after, unified diff); for files
those values are content hashes or "old"/"new", which read badly as
`- -> sha256:…`. The console, JUnit and `ajudaplay show` all print changes
through `change_line` (or, for the journal's stored text, `restyle_summary`),
so a change reads the same wherever it is shown. Other changes (an image, a
replica count) keep their `what: before -> after` form.
"""

from __future__ import annotations

import re

from ajudaplay.results import Change

SHOWN_HASH = 8  # hex digits of a content hash shown
_HASH = re.compile(r"^(?:sha256:)?([0-9a-f]{8,64})$")
_FILE_KINDS = ("config ", "file ")  # a `what` naming a file: "config /opt/app/config/nginx/default.conf"
_ABSENT = (None, "", "-", "absent")
_SUMMARY = re.compile(r"^(?P<what>.+): (?P<before>\S+) -> (?P<after>\S+)$")


def _hash(value: str | None) -> str | None:
    match = _HASH.match(value or "")
    return match.group(1)[:SHOWN_HASH] + "…" if match else None


def _counts(unified: str) -> tuple[int, int]:
    """(added, removed) lines of a unified diff, headers not counted."""
    added = removed = 0
    for line in unified.splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    return added, removed


def _path(what: str) -> str:
    for kind in _FILE_KINDS:
        if what.startswith(kind):
            return what[len(kind):]
    return what


def _lines(count: int) -> str:
    return f"{count} line{'' if count == 1 else 's'}"


def _file_line(what: str, before: str | None, after: str | None, unified: str) -> str:
    path = _path(what)
    old, new = _hash(before), _hash(after)
    if after in _ABSENT:
        return f"{path}: removed" + (f" (sha256 {old})" if old else "")
    if unified.startswith("binary file"):
        body = "binary content changed"
    elif unified:
        added, removed = _counts(unified)
        body = (f"created, {_lines(added)}" if before in _ABSENT else f"{_lines(max(added, removed))} changed")
    else:
        body = "created" if before in _ABSENT else "changed"
    if new and old:
        body += f" (sha256 {old} → {new})"
    elif new:
        body += f" (sha256 {new})"
    return f"{path}: {body}"


def _file_like(what: str, before: str | None, after: str | None, unified: str) -> bool:
    return bool(unified) or bool(_hash(before) or _hash(after)) or (
        what.startswith(_FILE_KINDS) and {before, after} <= {None, "absent", "old", "new"})


def change_line(change: Change) -> str:
    """How one change reads on the console, in JUnit and in `ajudaplay show`."""
    if _file_like(change.what, change.before, change.after, change.unified):
        return _file_line(change.what, change.before, change.after, change.unified)
    return change.summary()


def changes_text(changes: list[Change]) -> str:
    """All of a step's changes on one line (what `Result.diff_summary` is, restyled)."""
    return "; ".join(change_line(change) for change in changes)


def restyle_summary(text: str) -> str:
    """The journal's stored summary (`what: before -> after; ...`) restyled as `change_line` would.

    The journal keeps no unified diff, so a file change there says "changed",
    not how many lines; everything else is passed through as it was stored.
    """
    parts = []
    for part in text.split("; ") if text else []:
        match = _SUMMARY.match(part)
        if match is None:
            parts.append(part)
            continue
        what, before, after = match["what"], match["before"], match["after"]
        if _file_like(what, before, after, "") and (_hash(before) or _hash(after) or what.startswith(_FILE_KINDS)):
            parts.append(_file_line(what, None if before == "-" else before, None if after == "-" else after, ""))
        else:
            parts.append(part)
    return "; ".join(parts)
