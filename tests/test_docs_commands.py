"""Every `ajudaplay ...` command line in README.md and docs/*.md is checked against the real parser,
so the docs cannot drift from the CLI again (issue 15, item 7).

- in code (fenced blocks, indented blocks, `inline code`) every flag must exist on its command;
- a concrete example in a code block (no `[optional]`, `A|B` or `...` placeholders) must parse whole,
  exactly as `main` parses it (an unknown flag, a missing -i, a wrong choice fail the test);
- what the docs say the local environment deploys is what inventory/local.yml pins.
"""

from __future__ import annotations

import argparse
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from ajudaplay.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_COMMAND = re.compile(r"(?:^|(?<=[\s`(;&|]))(?:[\w.~/-]*/)?ajudaplay(?= )")
_OPERATORS = {"|", "||", "&&", ";", ">", ">>", "<", "&", "2>", "2>&1", ")", "("}
_PLACEHOLDER = re.compile(r"[\[\]|]|\.\.\.")


@dataclass(frozen=True)
class Example:
    where: str  # file:line
    words: tuple[str, ...]  # after `ajudaplay`, up to the first shell operator or comment
    inline: bool  # `inline code` in prose: flags checked, not parsed whole (it may name a command only)

    @property
    def synopsis(self) -> bool:
        return self.inline or any(_PLACEHOLDER.search(word) for word in self.words)


def _code_lines(path: Path) -> list[tuple[int, str, bool]]:
    """(line number, text, is inline) for every code line and every inline code span of a Markdown file."""
    found: list[tuple[int, str, bool]] = []
    fenced = False
    lines = path.read_text().splitlines()
    number = 0
    while number < len(lines):
        line = lines[number]
        first = number + 1
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif fenced or line.startswith("    "):
            while line.endswith("\\") and number + 1 < len(lines):  # a continued shell line
                number += 1
                line = line[:-1] + " " + lines[number].strip()
            found.append((first, line, False))
        else:
            found.extend((first, span, True) for span in re.findall(r"`([^`]+)`", line))
        number += 1
    return found


def _words(text: str) -> tuple[str, ...]:
    """The shell words up to the first operator (`|`, `&&`, `;`, `>` ...) or comment; `A|B` stays a word."""
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split = True
    words: list[str] = []
    try:
        for word in lexer:
            if word in _OPERATORS or word.startswith((">", "2>")):
                break
            words.append(word.rstrip(";)"))  # `cmd;` and `$(cmd)`, `<(cmd)` end the command
            if word.endswith((";", ")")):
                break
    except ValueError:  # an unbalanced quote in prose: keep what was read
        pass
    return tuple(words)


def examples() -> list[Example]:
    found: list[Example] = []
    for path in DOCS:
        for number, text, inline in _code_lines(path):
            for match in _COMMAND.finditer(text):
                if "#" in text[:match.start()]:  # a comment that mentions ajudaplay, not a command
                    continue
                words = _words(text[match.end():])
                if words:
                    found.append(Example(f"{path.relative_to(ROOT)}:{number}", words, inline))
    return found


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    return {flag for action in parser._actions for flag in action.option_strings}


def test_the_docs_have_command_lines_to_check() -> None:
    found = examples()
    assert len([e for e in found if not e.synopsis]) >= 20, "the extraction found too few examples"
    assert {e.words[0] for e in found} >= {"run", "validate", "schema", "history", "show", "unlock", "inventory",
                                           "completion", "man"}


@pytest.mark.parametrize("example", examples(), ids=lambda e: f"{e.where}:{' '.join(e.words)[:50]}")
def test_every_flag_in_the_docs_exists(example: Example) -> None:
    subparsers = _subparsers()
    command, *rest = example.words
    if command.startswith("-"):
        assert command in _flags(build_parser()), f"{example.where}: no top-level flag {command}"
        return
    assert command in subparsers, f"{example.where}: no command {command!r}"
    known = _flags(subparsers[command])
    for word in rest:
        for flag in re.findall(r"(?:^|[\[|])(--?[A-Za-z][\w-]*)", word):
            if flag not in known and re.fullmatch(r"-[A-Za-z]+", flag):  # -vv: short flags together
                assert all(f"-{c}" in known for c in flag[1:]), f"{example.where}: `ajudaplay {command}` has no {flag}"
            else:
                assert flag in known, f"{example.where}: `ajudaplay {command}` has no {flag}"


@pytest.mark.parametrize("example", [e for e in examples() if not e.synopsis],
                         ids=lambda e: f"{e.where}:{' '.join(e.words)[:50]}")
def test_every_example_parses(example: Example, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        build_parser().parse(list(example.words))
    except SystemExit:
        pytest.fail(f"{example.where}: `ajudaplay {' '.join(example.words)}` is refused: {capsys.readouterr().err}")


def test_the_local_environment_pin_is_what_the_docs_say() -> None:
    """compose.md once said `deploy.yml -i local` deploys v2 while inventory/local.yml pinned v1."""
    inventory = ROOT / "inventory" / "local.yml"
    pin = yaml.safe_load(inventory.read_text())["vars"]["versions"]["api"]
    said = [(path.name, version) for path in [*DOCS, inventory]
            for version in re.findall(r"versions\.api(?: below)? \((\w+)\)", path.read_text())]
    assert ("compose.md", pin) in said
    assert all(version == pin for _, version in said), said
