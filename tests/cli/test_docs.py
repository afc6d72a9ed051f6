"""The user guide documents every subcommand, every flag and exactly the ExitCode values."""

from __future__ import annotations

import argparse
import re

import pytest

from ajudaplay.cli import build_parser
from ajudaplay.exitcodes import ExitCode
from tests.cli.conftest import ROOT

GUIDE = (ROOT / "docs" / "user-guide.md").read_text()


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("name", sorted(_subparsers()))
def test_every_subcommand_is_documented(name: str) -> None:
    assert f"### `ajudaplay {name}`" in GUIDE


@pytest.mark.parametrize(
    "name,flag",
    [(n, o) for n, p in sorted(_subparsers().items()) for a in p._actions for o in a.option_strings if o not in ("-h", "--help")],
)
def test_every_flag_is_documented(name: str, flag: str) -> None:
    section = GUIDE.split(f"### `ajudaplay {name}`", 1)[1].split("\n### ", 1)[0]
    assert re.search(rf"(?<![\w-]){re.escape(flag)}\b", section), f"{flag} of {name} not documented"


def test_exit_code_table_equals_exitcode() -> None:
    table = GUIDE.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| (\w+) \|", table, re.MULTILINE)
    assert {(int(code), name) for code, name in rows} == {(int(c), c.name) for c in ExitCode}
