"""The argparse parser the CLI builds its commands with, and the value types it checks with.

Apart from cli.py (which says *what* the commands and flags are) because it is
*how* the command line is refused: exit code 3 (argparse's 2 means FAILED
here), the usage of the subcommand that was mistyped (not the top-level one),
did-you-mean for flags, commands and choices, and values refused while the
command line is read (`--lock-wait -1`), before anything is opened.
"""

from __future__ import annotations

import argparse
import sys
from types import MappingProxyType
from typing import Any, Callable, NoReturn, Sequence

from ajudaplay.exitcodes import ExitCode


class Parser(argparse.ArgumentParser):
    """argparse that exits with INVALID_INPUT (3), not argparse's 2 (which means FAILED here).

    Errors also suggest the closest flag, command or choice (`--chekc` → `--check`),
    and `parse` reports a subcommand's unknown flags with that subcommand's usage
    (argparse's own `parse_args` reports them with the top-level one).
    """

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(int(ExitCode.INVALID_INPUT), f"{self.prog}: error: {_with_suggestion(message)}\n")

    def parse(self, argv: Sequence[str] | None = None) -> argparse.Namespace:
        """`parse_args`, except that unknown flags are refused by the subcommand they were given to."""
        args, extras = self.parse_known_args(argv)
        if extras:
            owner = _subparsers(self).get(getattr(args, "command", None) or "", self)
            owner.error(_unknown_arguments(owner, extras))
        return args


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommands' parsers by name ({} for a parser without subcommands)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _unknown_arguments(parser: argparse.ArgumentParser, extras: list[str]) -> str:
    """`unrecognized arguments: --chekc (did you mean '--check'?)`, a hint per mistyped flag."""
    from ajudaplay.schema_diagnostics import did_you_mean

    flags = [o for action in parser._actions for o in action.option_strings if o.startswith("--")]
    hints = [did_you_mean(word.split("=", 1)[0], flags) for word in extras if word.startswith("--")]
    hint = "; ".join(h for h in hints if h)
    return f"unrecognized arguments: {' '.join(extras)}" + (f" ({hint})" if hint else "")


def _with_suggestion(message: str) -> str:
    """argparse's `invalid choice: 'rnu' (choose from ...)` with `did you mean 'run'?` added."""
    import re

    found = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)$", message)
    if not found:
        return message
    from ajudaplay.schema_diagnostics import did_you_mean

    hint = did_you_mean(found.group(1), re.findall(r"'([^']*)'", found.group(2)))
    return f"{message}; {hint}" if hint else message


def at_least(minimum: int, kind: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse `type` that refuses values below `minimum` when the command line is parsed."""

    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if value != value or value < minimum:  # NaN too
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, got {text}")
        return value

    convert.__name__ = kind.__name__  # argparse names the type in its own messages
    return convert


COLOR = MappingProxyType({"auto": None, "always": True, "never": False})
