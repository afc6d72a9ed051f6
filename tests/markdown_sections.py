"""Sections of a markdown document by heading, so doc checks look where a thing is documented."""

from __future__ import annotations

import re

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def heading_key(title: str) -> str:
    """`### \\`"run_start"\\`` and `## deploy` both key as the bare name."""
    return title.strip().strip("`").strip('"').strip()


def sections(text: str) -> dict[str, str]:
    """Heading key -> the text under it, up to the next heading of the same or a higher level.

    Lines inside fenced code blocks are never headings (a `# comment` in a shell example).
    """
    found: dict[str, str] = {}
    open_: list[tuple[int, str, list[str]]] = []
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        match = None if fenced else _HEADING.match(line)
        if match:
            level = len(match.group(1))
            while open_ and open_[-1][0] >= level:
                _, key, body = open_.pop()
                found.setdefault(key, "\n".join(body))
            open_.append((level, heading_key(match.group(2)), []))
        for _, _, body in open_:
            body.append(line)
    while open_:
        _, key, body = open_.pop()
        found.setdefault(key, "\n".join(body))
    return found


def table_rows(text: str, header: str = "action") -> dict[str, str]:
    """First cell (without backticks) -> the whole row, in tables whose first header cell is `header`."""
    rows: dict[str, str] = {}
    in_table = False
    for line in text.splitlines():
        if not line.lstrip().startswith("|"):
            in_table = False
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not in_table:  # the header row starts a table
            in_table, wanted = True, cells[0] == header
            continue
        if wanted and re.fullmatch(r"`[^`]+`", cells[0]):
            rows.setdefault(cells[0].strip("`"), line)
    return rows


def registered_rows(text: str) -> dict[str, tuple[str, list[str]]]:
    """A page's "Registered data" table (`| action | outcome type | keys |`): action -> (the outcome
    type named, the backticked keys listed), so a doc check compares them with the type's fields."""
    rows: dict[str, tuple[str, list[str]]] = {}
    for line in sections(text)["Registered data"].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = (cells[1].strip("`"), re.findall(r"`([a-z_0-9]+)`", cells[2]))
    return rows
