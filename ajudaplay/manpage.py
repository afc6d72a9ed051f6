"""The manual page ajudaplay(1) in roff, generated from the argparse parser.

Generated from the parser (like the completion scripts), so `man ajudaplay`
lists exactly the commands and flags the CLI accepts; the exit codes come from
ExitCode. The prose stays in docs/user-guide.md, which the page points to.
"""

from __future__ import annotations

import argparse
import datetime

from ajudaplay.exitcodes import ExitCode

EXIT_MEANING = {
    "OK": "every step succeeded (or was skipped, ignored or rescued)",
    "INTERNAL_ERROR": "a bug in ajudaplay (run with -vv for the traceback)",
    "FAILED": "one or more steps failed, a target was unreachable or lost its lock",
    "INVALID_INPUT": "playbook, inventory or command line is invalid; nothing ran",
    "LOCK_HELD": "another run holds the lock of a target",
    "JOURNAL_ERROR": "the journal cannot be opened or written",
    "INTERRUPTED": "Ctrl-C or SIGTERM",
}


def roff(text: str) -> str:
    """Text safe in a roff line: backslashes and hyphens escaped, no control character at the start."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text[:1] in (".", "'") else text


def man_page(parser: argparse.ArgumentParser, version: str) -> str:
    """ajudaplay.1: NAME, SYNOPSIS, DESCRIPTION, COMMANDS (usage and every flag), EXIT STATUS, SEE ALSO."""
    date = datetime.date.today().isoformat()
    lines = [
        f'.TH AJUDAPLAY 1 "{date}" "ajudaplay {version}" "User Commands"',
        ".SH NAME",
        "ajudaplay \\- " + roff(parser.description or "run YAML playbooks"),
        ".SH SYNOPSIS",
        ".B ajudaplay",
        ".I COMMAND",
        "[\\fIOPTIONS\\fR]",
        ".SH DESCRIPTION",
        roff("Runs operational procedures written as YAML playbooks against Kubernetes clusters and "
             "Docker Compose hosts. The commands and every flag follow; docs/user-guide.md explains "
             "them at length."),
    ]
    lines.append(".SH OPTIONS")
    lines += _options(parser)
    lines.append(".SH COMMANDS")
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
        for name, sub in action.choices.items():
            usage = [roff(line) for line in sub.format_usage().removeprefix("usage: ").rstrip().splitlines()]
            lines += [f".SS {roff(name)}", roff(helps.get(name, "")), ".PP", ".nf", *usage, ".fi"]
            lines += _options(sub)
    lines.append(".SH EXIT STATUS")
    for code in ExitCode:
        lines += [".TP", f".B {int(code)}", f"{code.name}: {roff(EXIT_MEANING.get(code.name, ''))}"]
    lines += [
        ".SH ENVIRONMENT",
        ".TP", ".B AJUDAPLAY_JOURNAL", roff("the journal file (default ~/.local/state/ajudaplay/journal.sqlite)"),
        ".TP", ".B NO_COLOR", roff("no colour on the console (run --color always wins)"),
        ".TP", ".B FORCE_COLOR", roff("colour even when stdout is not a terminal (run --color never wins)"),
        ".SH SEE ALSO",
        roff("docs/user-guide.md, docs/playbook-reference.md, docs/inventory.md; "
             "`ajudaplay completion bash|zsh` for shell completion."),
    ]
    return "\n".join(lines) + "\n"


def _options(parser: argparse.ArgumentParser) -> list[str]:
    """`.TP` and `.B -i, --inventory ENV` then its help, for each flag and positional."""
    lines: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) or action.help == argparse.SUPPRESS:
            continue
        if action.option_strings:
            value = "" if action.nargs == 0 else " " + _metavar(action)
            spelled = ", ".join(f"\\fB{roff(flag)}\\fR" for flag in action.option_strings) + (f"\\fI{roff(value)}\\fR" if value else "")
        else:
            spelled = f"\\fI{roff(_metavar(action))}\\fR"
        lines += [".TP", spelled, roff((action.help or "").replace("%%", "%")) or "\\&"]
    return lines


def _metavar(action: argparse.Action) -> str:
    if isinstance(action.metavar, str):
        return action.metavar
    if action.choices:
        return "|".join(str(c) for c in action.choices)
    return action.dest.upper()
