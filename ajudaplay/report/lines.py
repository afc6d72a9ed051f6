"""Where the console reporter's lines go: rich (terminal, colour) or straight to the stream (pipes, CI logs).

A line is a str or a list of (text, style) parts. Without colour and without
a terminal, rich writes exactly the parts' text with control codes stripped,
then a newline, and flushes. Its rendering pipeline costs about a third of a
millisecond per line, which a 30-host run pays for every target of every
task, and importing it ~20 ms; `PlainLines` writes the same bytes directly
and hands the rare line with a tab (tab stops depend on cell widths) to rich.
tests/report/test_lines.py compares both writers on tricky text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence, TextIO, Union

if TYPE_CHECKING:
    from rich.console import Console

Part = tuple[str, str]  # (text, rich style name or "")
Line = Union[str, Sequence[Part]]

# What rich.control.strip_control_codes removes: BEL, BS, VT, FF, CR.
_CONTROL_CODES = {code: None for code in (7, 8, 11, 12, 13)}


def parts_of(line: Line, style: str = "") -> Sequence[Part]:
    """A plain string with one style, or the parts as given."""
    return [(line, style)] if isinstance(line, str) else line


class PlainLines:
    """Writes lines as plain text, byte for byte what rich writes without colour or a terminal."""

    def __init__(self, stream: TextIO, rich_fallback: Callable[[], RichLines]) -> None:
        self._stream = stream
        self._rich_fallback = rich_fallback
        self._rich: RichLines | None = None

    def print(self, line: Line, style: str = "") -> None:
        text = "".join(part for part, _ in parts_of(line, style))
        if "\t" in text:  # tab stops depend on character cell widths: rich lays such lines out
            if self._rich is None:
                self._rich = self._rich_fallback()
            self._rich.print(line, style)
            return
        self._stream.write(text.translate(_CONTROL_CODES) + "\n")
        self._stream.flush()


class RichLines:
    """Writes lines through a rich Console: colours, and room for a live status line."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def print(self, line: Line, style: str = "") -> None:
        from rich.text import Text

        text = Text()
        for part, part_style in parts_of(line, style):
            text.append(part, style=part_style)
        self.console.print(text, soft_wrap=True)
