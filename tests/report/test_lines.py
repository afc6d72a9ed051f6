"""The plain line writer must write exactly what rich writes without colour or a terminal."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from ajudaplay.engine.events import Event
from ajudaplay.report.console import ConsoleReporter
from ajudaplay.report.lines import Line, PlainLines, RichLines
from tests.report.conftest import feed

TRICKY: list[Line] = [
    "",
    "plain ascii",
    "trailing spaces   ",
    "x" * 300,  # longer than any terminal: soft wrap, never broken
    "two\nlines",
    "carriage\rreturn, bell\x07, backspace\x08, vt\x0b, ff\x0c",
    "an escape \x1b[31m from a command's output",
    "tab\tseparated\tvalues",
    "wide 日本語\tthen a tab",
    "emoji \N{ROCKET} and combining e\u0301",
    "[bold]not markup[/bold] :smile: http://example.com",
    [("changed: ", "yellow"), ("[web1]", "yellow"), (" file /etc/x", "")],
    [("failed: ", "bold red"), ("[h]", "bold red"), (" non-zero\treturn code", "red")],
]


def rich_reference(stream: io.StringIO) -> RichLines:
    """The console ConsoleReporter builds for a pipe without colour."""
    return RichLines(Console(file=stream, force_terminal=False, color_system=None, no_color=True,
                             highlight=False, markup=False, emoji=False, soft_wrap=True))


@pytest.mark.parametrize("line", TRICKY, ids=range(len(TRICKY)))
def test_plain_writer_matches_rich(line: Line) -> None:
    expected, got = io.StringIO(), io.StringIO()
    rich_reference(expected).print(line, "bold")
    PlainLines(got, lambda: rich_reference(got)).print(line, "bold")
    assert got.getvalue() == expected.getvalue()


def test_reporter_output_is_unchanged_by_the_plain_writer(run_events: list[Event]) -> None:
    for verbosity in (0, 1, 2):
        plain, reference = io.StringIO(), io.StringIO()
        feed(ConsoleReporter(plain, verbosity=verbosity, show_diff=True), run_events)
        reporter = ConsoleReporter(reference, verbosity=verbosity, show_diff=True)
        reporter._out = rich_reference(reference)
        feed(reporter, run_events)
        assert plain.getvalue() == reference.getvalue()
        assert plain.getvalue().count("\n") > 10
