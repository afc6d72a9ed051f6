"""Every diagnostic's line:col points inside the file, at the node that is wrong.

A random valid playbook is written in a random YAML style (block or flow, indents,
widths, escaped or raw unicode, sorted keys, comments before it), with exactly one
fault whose token appears nowhere else. Loading must fail, and each diagnostic's
position must be in the file and start at that token (or at the quote before it).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from ajudaplay.actions.base import default_registry
from ajudaplay.errors import InvalidInput
from ajudaplay.playbook.loader import load_playbook
from tests.properties.strategies import FAST

REGISTRY = default_registry()
NAME = st.text(alphabet="abcdefxyz ABC:#'\"-é中\t!&*?", min_size=1, max_size=12).filter(lambda s: s.strip() == s and s)

# fault kind -> (where it goes, the token a diagnostic must point at)
FAULTS = ["task keyword", "action argument", "task type", "play keyword", "play value"]


@st.composite
def faulty_playbooks(draw: st.DrawFn) -> tuple[list[dict[str, Any]], str]:
    names = draw(st.lists(NAME, min_size=1, max_size=6, unique=True))
    plays: list[dict[str, Any]] = []
    for index, chunk in enumerate(draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))):
        tasks = [{"name": f"{index}-{n}", "debug": {"msg": draw(NAME)}} for n in names[:chunk]]
        plays.append({"name": draw(NAME), "hosts": "all", "tasks": tasks})
    play = draw(st.sampled_from(plays))
    task = draw(st.sampled_from(play["tasks"]))
    kind = draw(st.sampled_from(FAULTS))
    if kind == "task keyword":
        token = "zzbogus"
        task[token] = draw(st.integers(0, 9))
    elif kind == "action argument":
        token = "zznope"
        task["debug"][token] = draw(NAME)
    elif kind == "task type":
        token = "qqnotanumber"
        task["retries"] = token
    elif kind == "play keyword":
        token = "zzplaykey"
        play[token] = draw(st.booleans())
    else:
        token = "-7"
        play["serial"] = -7
    return plays, token


STYLE = st.fixed_dictionaries({
    "default_flow_style": st.sampled_from([False, True, None]),
    "indent": st.integers(2, 6),
    "width": st.integers(20, 200),
    "allow_unicode": st.booleans(),
    "sort_keys": st.booleans(),
    "explicit_start": st.booleans(),
})


@FAST
@given(faulty_playbooks(), STYLE, st.sampled_from(["", "# runbook\n", "\n\n# a\n#  b\n\n"]))
def test_each_diagnostic_points_at_the_offending_node(case: tuple[list[dict[str, Any]], str], style: dict[str, Any],
                                                       header: str) -> None:
    plays, token = case
    text = header + yaml.safe_dump(plays, **style)
    assert text.count(token) == 1, text
    with tempfile.TemporaryDirectory(prefix="ajudaplay-marks-") as folder:
        path = Path(folder) / "play.yml"
        path.write_text(text, encoding="utf-8")
        try:
            load_playbook(path, REGISTRY)
        except InvalidInput as exc:
            diagnostics = exc.diagnostics
        else:
            raise AssertionError(f"no diagnostic for {token!r} in:\n{text}")
    lines = text.splitlines()
    assert diagnostics
    for diagnostic in diagnostics:
        mark = diagnostic.mark
        assert mark is not None, diagnostic
        assert 1 <= mark.line <= len(lines), (str(diagnostic), text)
        line = lines[mark.line - 1]
        assert 1 <= mark.column <= len(line), (str(diagnostic), text)
        at = line[mark.column - 1:]
        assert at.startswith(token) or at[1:].startswith(token) and at[0] in "'\"", (str(diagnostic), at, text)
