"""Bad inputs as data files: each case names the file:line:col and message fragments it must produce.

Header lines of a case file:
    # expect: LINE:COL fragment | fragment ...   (one diagnostic; every fragment must be in it)
    # inventory: relative/path.yml                (validate with this inventory)
    # never: text                                 (must not appear in any message, e.g. a password)
The number of diagnostics must equal the number of `expect` lines: no noise, nothing missed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ajudaplay.actions.base import Registry
from ajudaplay.errors import Diagnostic
from ajudaplay.engine.options import RunOptions
from ajudaplay.engine.preflight import validate

CASES = Path(__file__).parent / "cases"
_EXPECT = re.compile(r"^# expect: (\d+):(\d+) (.+)$")


def _header(path: Path) -> tuple[list[tuple[int, int, list[str]]], Path | None, list[str]]:
    expects: list[tuple[int, int, list[str]]] = []
    inventory = None
    never: list[str] = []
    for line in path.read_text().splitlines():
        match = _EXPECT.match(line)
        if match:
            fragments = [f.strip() for f in match.group(3).split(" | ")]
            expects.append((int(match.group(1)), int(match.group(2)), fragments))
        elif line.startswith("# inventory: "):
            inventory = (path.parent / line.split(": ", 1)[1].strip()).resolve()
        elif line.startswith("# never: "):
            never.append(line.split(": ", 1)[1].strip())
    return expects, inventory, never


def _render(diagnostics: list[Diagnostic]) -> str:
    return "\n".join(str(d) for d in diagnostics)


@pytest.mark.parametrize("case", sorted(CASES.glob("*.yml")), ids=lambda p: p.stem)
def test_bad_input_case(case: Path, registry: Registry) -> None:
    expects, inventory, never = _header(case)
    assert expects, f"{case.name} has no `# expect:` line"
    diagnostics = validate([case], registry, inventory, RunOptions()).diagnostics
    shown = _render(diagnostics)
    for line, column, fragments in expects:
        at = [d for d in diagnostics if d.mark and (d.mark.line, d.mark.column) == (line, column)]
        assert any(all(f in str(d) for f in fragments) for d in at), (
            f"expected {line}:{column} {fragments} in:\n{shown}"
        )
        assert all(d.mark is None or d.mark.file == str(case) for d in at)
    assert len(diagnostics) == len(expects), f"unexpected extra diagnostics:\n{shown}"
    assert "Traceback" not in shown
    for text in never:
        assert text not in shown
