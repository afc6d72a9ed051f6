"""`history`, `show` and `unlock`: the commands that read or change what runs leave behind.

Apart from cli.py (argument parsing, `run`, `validate`, `schema`) because they
never run a playbook: they open the journal or one target's lock, and nothing
else. Heavy modules are imported inside the commands, as in cli.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable

from ajudaplay.errors import Diagnostic, InvalidInput
from ajudaplay.exitcodes import ExitCode


def open_journal(path: Path | None) -> Any:
    from ajudaplay.journal import Journal, default_path

    return Journal.open(path or default_path())


def cmd_history(args: argparse.Namespace, registry_factory: Callable[[], Any]) -> int:
    from ajudaplay.report.history import print_runs

    journal = open_journal(args.journal)
    try:
        print_runs(journal.runs(args.limit), sys.stdout, as_json=args.output == "json")
    finally:
        journal.close()
    return int(ExitCode.OK)


def cmd_show(args: argparse.Namespace, registry_factory: Callable[[], Any]) -> int:
    from ajudaplay.report.history import print_run

    journal = open_journal(args.journal)
    try:
        detail = journal.run(args.run)
        if detail is None:
            raise InvalidInput([Diagnostic(None, f"no run {args.run!r} in the journal (or the prefix is ambiguous)",
                                           "`ajudaplay history` lists the recent runs")])
        print_run(detail, sys.stdout, as_json=args.output == "json")
    finally:
        journal.close()
    return int(ExitCode.OK)


def cmd_unlock(args: argparse.Namespace, registry_factory: Callable[[], Any]) -> int:
    """`ajudaplay unlock -i ENV TARGET`: remove a (stale) lock, whoever holds it."""
    import difflib

    from ajudaplay.inventory.loader import load_inventory, resolve_inventory_arg
    from ajudaplay.targets.base import lock_of
    from ajudaplay.targets.factory import make_target

    inventory = load_inventory(resolve_inventory_arg(args.inventory, Path.cwd()))
    spec = inventory.targets.get(args.target)
    if spec is None:
        close = difflib.get_close_matches(args.target, list(inventory.targets), n=1)
        raise InvalidInput([Diagnostic(None, f"no target {args.target!r} in {inventory.path}",
                                       f"did you mean {close[0]!r}?" if close else
                                       f"targets: {', '.join(sorted(inventory.targets))}")])
    target = make_target(spec)
    try:
        target.open()
        lock = lock_of(target)
        info = lock.read_lock()
        if info is None:
            print(f"{args.target}: no lock held")
            return int(ExitCode.OK)
        if not args.yes:
            if not sys.stdin.isatty():
                raise InvalidInput([Diagnostic(None, f"{args.target} is locked by {info.describe()}",
                                               "pass --yes to remove it without asking")])
            answer = input(f"{args.target} is locked by {info.describe()}. Remove the lock? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("lock kept")
                return int(ExitCode.OK)
        removed = lock.force_unlock()
        print(f"{args.target}: removed lock held by {(removed or info).describe()}")
        return int(ExitCode.OK)
    finally:
        target.close()
