"""KEY=VALUE env files: the one parser of the package, and the writer for Compose's env files.

The parser reads the syntax of Compose v2's dotenv (compose-go `dotenv/parser.go`):
blank lines and `# comment` lines, an optional `export ` prefix, spaces around
`=`, and values that are

- "double quoted": may span lines; `\\\\ \\" \\$ \\n \\r \\t \\a \\b \\f \\v` are escapes,
  any other backslash stays as written;
- 'single quoted': literal and may span lines; only `\\'` is an escape;
- unquoted: the rest of the line, cut at ` #` (a comment), trailing spaces dropped.

It never expands `$VAR`: a `$` is literal (ajudaplay reads secrets, not shell).
Inventory secrets, the `secret` action and the Compose target all use it.

`format_env` writes values so that the Compose CLI on the host reads them back
unchanged; v1 (python-dotenv 0.21 under docker-compose 1.29) and v2 differ on
`$`, so the writer needs to know which one reads the file. What v1 cannot
represent is refused (EnvValueError), never written corrupted.
"""

from __future__ import annotations

import re

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_EXPORT = re.compile(r"export[ \t]+")
_DOUBLE_ESCAPES = {"\\": "\\", '"': '"', "$": "$", "n": "\n", "r": "\r", "t": "\t",
                   "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


class EnvValueError(ValueError):
    """A value the env file cannot carry for that Compose CLI; the message names the key, never the value."""


def parse_env(text: str, key_pattern: re.Pattern[str] = _KEY) -> tuple[dict[str, str], list[int]]:
    """Values by key, and the numbers of the lines that are not KEY=VALUE.

    `key_pattern` says which keys are valid (inventories need variable names).
    Bad lines are returned by number only: their text may hold a secret, so
    callers must never echo it. Parsing resumes on the line after a bad one.
    """
    values: dict[str, str] = {}
    bad: list[int] = []
    text = text.removeprefix("\ufeff")  # a BOM, as python-dotenv's utf-8-sig drops it
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return values, bad
        parsed = None if text[pos] == "#" else _statement(text, pos, key_pattern)
        if parsed is None:
            if text[pos] != "#":
                bad.append(text.count("\n", 0, pos) + 1)
            end = text.find("\n", pos)
            pos = len(text) if end < 0 else end + 1
            continue
        key, value, pos = parsed
        values[key] = value


def _statement(text: str, start: int, key_pattern: re.Pattern[str]) -> tuple[str, str, int] | None:
    """KEY=VALUE starting at `start`: (key, value, where the next line starts), or None."""
    export = _EXPORT.match(text, start)
    if export:
        start = export.end()
    equals = text.find("=", start)
    newline = text.find("\n", start)
    if equals < 0 or (0 <= newline < equals):
        return None
    key = text[start:equals].strip()
    if not key_pattern.match(key):
        return None
    pos = equals + 1
    while pos < len(text) and text[pos] in " \t":
        pos += 1
    quote = text[pos:pos + 1]
    if quote not in ("'", '"'):
        stop = len(text) if newline < 0 else newline
        value = text[pos:stop].split(" #", 1)[0].rstrip()
        return key, value, stop + 1
    quoted = _quoted(text, pos + 1, quote)
    if quoted is None:
        return None
    value, after = quoted
    stop = text.find("\n", after)
    stop = len(text) if stop < 0 else stop
    rest = text[after:stop].strip()
    if rest and not rest.startswith("#"):
        return None
    return key, value, stop + 1


def _quoted(text: str, pos: int, quote: str) -> tuple[str, int] | None:
    """The value of a quoted string whose body starts at `pos`, and the index after its closing quote."""
    out: list[str] = []
    while pos < len(text):
        char = text[pos]
        if char == quote:
            return "".join(out), pos + 1
        if char == "\\" and pos + 1 < len(text):
            nxt = text[pos + 1]
            if nxt == quote:
                out.append(quote)
            elif quote == '"' and nxt in _DOUBLE_ESCAPES:
                out.append(_DOUBLE_ESCAPES[nxt])
            else:
                out.append(char + nxt)
            pos += 2
            continue
        out.append(char)
        pos += 1
    return None


def format_env(values: dict[str, str], cli: str) -> str:
    """An env file that Compose `cli` ("v1" or "v2") reads back as exactly `values`, keys sorted.

    Every value is double-quoted with `\\\\ \\" \\n \\r` escaped; v2 also needs `\\$`
    (it expands `$`), v1 must not get it (python-dotenv keeps `\\$` as two characters).
    v1 expands `${...}` with no escape and misreads a quoted value ending in a
    backslash: both are refused for v1. parse_env(format_env(v, cli)) == v.
    """
    lines = []
    for key, value in sorted(values.items()):
        if not _KEY.match(key):
            raise EnvValueError(f"key {key!r} is not a valid environment variable name (letters, digits, _ . -)")
        if "\0" in value:
            raise EnvValueError(f"the value of {key} holds a NUL character, which no environment variable can")
        if cli == "v1" and "${" in value:
            raise EnvValueError(f"the value of {key} holds '${{', which Compose v1 (docker-compose) always expands "
                                "in env files, with no escape; use Compose v2 or change the value")
        if cli == "v1" and value.endswith("\\"):
            raise EnvValueError(f"the value of {key} ends with a backslash, which Compose v1 (docker-compose) "
                                "cannot read back from a quoted value; use Compose v2 or change the value")
        text = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
        if cli != "v1":
            text = text.replace("$", "\\$")
        lines.append(f'{key}="{text}"\n')
    return "".join(lines)
