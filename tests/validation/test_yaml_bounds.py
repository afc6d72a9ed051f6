"""Hostile YAML costs little: alias expansion beyond a documented bound is refused at load.

A "billion laughs" document (9 levels of 9 aliases each would be 9^9 values) is a few
hundred bytes. `validate` and `run` must both refuse it with exit 3, quickly, naming the
alias that crosses the bound; ordinary anchors, aliases and merge keys keep working.
The real CLI runs in a subprocess against a real @local host target.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ajudaplay.errors import InvalidInput
from ajudaplay.yamlmarks import MAX_ALIAS_NODES, load_yaml

ROOT = Path(__file__).resolve().parents[2]
QUICK = 10.0  # seconds; an unbounded load of these files takes minutes


def _laughs(levels: int = 7, indent: str = "    ") -> tuple[str, int]:
    """Anchor lines a0..a{levels}, each holding 9 aliases of the previous; and the line of the crossing alias."""
    lines = [f'{indent}a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"{indent}a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    # expansion so far after the aliases of level i: level sizes are 10, 91, 820, 7381, ...
    total, size, crossing = 0, 10, None
    for i in range(1, levels + 1):
        if total + 9 * size > MAX_ALIAS_NODES and crossing is None:
            crossing = i
        total += 9 * size
        size = 1 + 9 * size
    assert crossing is not None
    return "\n".join(lines) + "\n", crossing


def _cli(cwd: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "AJUDAPLAY_JOURNAL": str(cwd / "journal.sqlite")}
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "ajudaplay", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)
    return done, time.monotonic() - t0


def _inventory(path: Path, extra: str = "") -> None:
    path.write_text(f"targets:\n  web:\n    host: \"@local\"\n    lock_path: {path.parent / 'web.lock'}\n{extra}")


def _playbook(path: Path, vars_text: str) -> None:
    path.write_text("- name: laughs\n  hosts: all\n  vars:\n" + vars_text + "  tasks:\n    - debug: {msg: hi}\n")


@pytest.mark.parametrize("command", ["validate", "run"])
def test_billion_laughs_playbook_is_refused_quickly(tmp_path: Path, command: str) -> None:
    text, line = _laughs()
    play = tmp_path / "play.yml"
    _playbook(play, text)
    _inventory(tmp_path / "inv.yml")
    args = [command, str(play), "-i", str(tmp_path / "inv.yml")]
    done, took = _cli(tmp_path, *args)
    out = done.stdout + done.stderr
    assert done.returncode == 3, out
    assert took < QUICK, f"{command} took {took:.1f}s"
    # the playbook's vars start at line 4; anchor line a{i} is line 4 + i
    assert re.search(rf"play\.yml:{4 + line}:\d+: YAML aliases expand to more than {MAX_ALIAS_NODES:,} values", out), out
    assert "write the repeated values out" in out
    assert "Traceback" not in out
    assert not (tmp_path / "web.lock").exists()


def test_billion_laughs_inventory_is_refused_quickly(tmp_path: Path) -> None:
    text, line = _laughs(indent="  ")
    inventory = tmp_path / "inv.yml"
    _inventory(inventory, "vars:\n" + text)
    play = tmp_path / "play.yml"
    _playbook(play, "    x: 1\n")
    for command in ("validate", "run"):
        done, took = _cli(tmp_path, command, str(play), "-i", str(inventory))
        out = done.stdout + done.stderr
        assert done.returncode == 3, out
        assert took < QUICK, f"{command} took {took:.1f}s"
        # `vars:` is line 5 of the inventory, anchor line a{i} is line 6 + i
        assert re.search(rf"inv\.yml:{6 + line}:\d+: YAML aliases expand", out), out
        assert "Traceback" not in out


def test_the_crossing_alias_is_named_with_its_column() -> None:
    text = "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9]\nb: [*a, *a]\n"
    load_yaml(text, "ok.yml")
    with pytest.raises(InvalidInput) as caught:
        from ajudaplay.yamlmarks import check_aliases

        check_aliases(text, "small.yml", limit=15)
    shown = str(caught.value.diagnostics[0])
    assert shown.startswith("small.yml:2:9: YAML aliases expand to more than 15 values: *a (10 values)"), shown


def test_recursive_alias_is_refused_not_expanded() -> None:
    with pytest.raises(InvalidInput) as caught:
        load_yaml("a: &a [x, *a, *a]\n", "rec.yml")
    assert "rec.yml:1:11: YAML alias *a refers to a value that contains it" in str(caught.value.diagnostics[0])


def test_modest_aliases_and_merge_keys_still_validate(tmp_path: Path) -> None:
    play = tmp_path / "play.yml"
    play.write_text(
        "- name: anchors\n"
        "  hosts: all\n"
        "  vars:\n"
        "    defaults: &defaults {retries: 2, image: app, ports: [80, 443]}\n"
        "    api:\n"
        "      <<: *defaults\n"
        "      image: api\n"
        "    same_ports: *defaults\n"
        "  tasks:\n"
        "    - name: first\n"
        "      debug: &say {msg: hello}\n"
        "    - name: second\n"
        "      debug: *say\n"
    )
    _inventory(tmp_path / "inv.yml")
    done, _ = _cli(tmp_path, "validate", str(play), "-i", str(tmp_path / "inv.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
    doc = load_yaml(play.read_text(), "play.yml")
    assert doc.data[0]["vars"]["api"] == {"image": "api", "retries": 2, "ports": [80, 443]}
    assert doc.data[0]["tasks"][1]["debug"] == {"msg": "hello"}


def test_a_document_just_within_the_bound_loads() -> None:
    leaves = ", ".join(["x"] * 99)
    text = f"a: &a [{leaves}]\n" + "b: [" + ", ".join(["*a"] * (MAX_ALIAS_NODES // 100)) + "]\n"
    doc = load_yaml(text, "edge.yml")  # exactly MAX_ALIAS_NODES values through aliases
    assert len(doc.data["b"]) == MAX_ALIAS_NODES // 100


def test_every_other_yaml_the_tool_reads_is_bounded_too(tmp_path: Path) -> None:
    """-e @file.yml, the `from_yaml` filter (data from a target) and a Compose override read from a host."""
    from ajudaplay.engine.extravars import parse_extra_vars
    from ajudaplay.errors import TargetError, TemplateError
    from ajudaplay.targets.compose.state import Override
    from ajudaplay.templating import Templar

    text, _ = _laughs(indent="")
    bomb = tmp_path / "vars.yml"
    bomb.write_text(text)
    started = time.monotonic()
    with pytest.raises(InvalidInput) as caught:
        parse_extra_vars([f"@{bomb}"], tmp_path)
    assert "YAML aliases expand to more than" in str(caught.value)
    with pytest.raises(TemplateError) as rendered:
        Templar().render("{{ text | from_yaml }}", {"text": text})
    assert "YAML aliases expand to more than" in str(rendered.value)
    with pytest.raises(TargetError) as read:
        Override.parse(text.encode(), "box:/srv/app/.ajudaplay/override.yml")
    assert "YAML aliases expand to more than" in str(read.value)
    assert time.monotonic() - started < QUICK
